package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

// ReloadCheck is how often certificate files are checked for changes.
var ReloadCheck = 10 * time.Second

// Server returns the tls.Config that terminates a listener's TLS and its
// mode (STRICT, PERMISSIVE or DISABLED; DISABLED returns a nil config).
func Server(t *v1.ListenerTLS) (*tls.Config, v1.ListenerTLSMode, error) {
	if t == nil || t.Mode == v1.TLSModeDisabled {
		return nil, v1.TLSModeDisabled, nil
	}
	f := t.Certificate.File
	if f == nil {
		return nil, t.Mode, errors.New("tls.certificate: only file certificates are supported")
	}
	kp, err := newKeyPair(f.CertificateChain, f.PrivateKey)
	if err != nil {
		return nil, t.Mode, fmt.Errorf("tls.certificate.file: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if v := t.Validation; v != nil {
		if v.Trust.File == nil {
			return nil, t.Mode, errors.New("tls.validation.trust: only file trust is supported")
		}
		pool, err := loadPool(v.Trust.File.CertificateChain)
		if err != nil {
			return nil, t.Mode, fmt.Errorf("tls.validation.trust.file: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if sans := sanList(v.SubjectAlternativeNames); len(sans) > 0 {
			cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				if len(chains) == 0 || len(chains[0]) == 0 {
					return errors.New("no verified client certificate")
				}
				return matchSANs(chains[0][0], sans)
			}
		}
	}
	return cfg, t.Mode, nil
}

// Client returns the tls.Config for connections to upstreams under a
// client policy, or nil when the policy does not enforce TLS.
func Client(p *v1.ClientPolicyTLS) (*tls.Config, error) {
	if p == nil || (p.Enforce != nil && !*p.Enforce) {
		return nil, nil
	}
	tr := p.Validation.Trust
	if tr.File == nil {
		return nil, errors.New("tls.validation.trust: only file trust is supported")
	}
	roots, err := loadPool(tr.File.CertificateChain)
	if err != nil {
		return nil, fmt.Errorf("tls.validation.trust.file: %w", err)
	}
	sans := sanList(p.Validation.SubjectAlternativeNames)
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The dialled address is an endpoint IP, not a name in the
		// certificate: verify the chain and the configured SANs instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("upstream sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
				return fmt.Errorf("upstream certificate: %w", err)
			}
			if len(sans) > 0 {
				return matchSANs(leaf, sans)
			}
			return nil
		},
	}
	if c := p.Certificate; c != nil && c.File != nil {
		kp, err := newKeyPair(c.File.CertificateChain, c.File.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("tls.certificate.file: %w", err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	return cfg, nil
}

// AppliesTo reports whether a client policy covers an upstream port.
func AppliesTo(p *v1.ClientPolicyTLS, port int) bool {
	if p == nil {
		return false
	}
	if len(p.Ports) == 0 {
		return true
	}
	return slices.Contains(p.Ports, v1.PortNumber(port))
}

func sanList(s *v1.SubjectAlternativeNames) []string {
	if s == nil {
		return nil
	}
	return s.Match.Exact
}

// matchSANs accepts a certificate carrying one of the wanted SANs (DNS
// names, URIs such as SPIFFE IDs, IP addresses or e-mail addresses).
func matchSANs(c *x509.Certificate, want []string) error {
	for _, w := range want {
		if slices.Contains(c.DNSNames, w) || slices.Contains(c.EmailAddresses, w) {
			return nil
		}
		for _, u := range c.URIs {
			if u.String() == w {
				return nil
			}
		}
		if ip := net.ParseIP(w); ip != nil {
			for _, cip := range c.IPAddresses {
				if cip.Equal(ip) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("certificate SANs %v match none of %v", c.DNSNames, want)
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// keyPair is a certificate and key re-read when their files change.
type keyPair struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	return kp, nil
}

func (kp *keyPair) load() error {
	cs, err := os.Stat(kp.certFile)
	if err != nil {
		return err
	}
	ks, err := os.Stat(kp.keyFile)
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		return err
	}
	kp.cert, kp.certMod, kp.keyMod = &c, cs.ModTime(), ks.ModTime()
	return nil
}

// get returns the current certificate, reloading it when its files
// changed; a failed reload keeps the previous one.
func (kp *keyPair) get() (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if time.Since(kp.lastCheck) >= ReloadCheck {
		kp.lastCheck = time.Now()
		cs, err1 := os.Stat(kp.certFile)
		ks, err2 := os.Stat(kp.keyFile)
		if err1 == nil && err2 == nil && (!cs.ModTime().Equal(kp.certMod) || !ks.ModTime().Equal(kp.keyMod)) {
			old := kp.cert
			if err := kp.load(); err != nil {
				kp.cert = old
			}
		}
	}
	return kp.cert, nil
}
