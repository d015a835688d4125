package tlsconfig

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

// pki is a throwaway CA with helpers to issue leaf certificates as files.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, caKey: key}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes name.pem and name-key.pem for a leaf with the given DNS SANs.
func (p *pki) issue(t *testing.T, name string, serial int64, dns ...string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

// echoServer accepts on ln and answers each line with "echo: line".
func echoServer(t *testing.T, ln net.Listener) {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				io.WriteString(c, "echo: "+line)
			}()
		}
	}()
}

func roundTrip(c net.Conn) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestServerAndClientWithMutualTLSAndSANs(t *testing.T) {
	p := newPKI(t)
	srvCert, srvKey := p.issue(t, "server", 2, "llm.mesh.local")
	cliCert, cliKey := p.issue(t, "client", 3, "gateway.mesh.local")
	listenerTLS := &v1.ListenerTLS{
		Mode:        v1.TLSModeStrict,
		Certificate: v1.ListenerTLSCertificate{File: &v1.FileCertificate{CertificateChain: srvCert, PrivateKey: srvKey}},
		Validation: &v1.ListenerTLSValidation{
			Trust:                   v1.ListenerTLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.caFile}},
			SubjectAlternativeNames: &v1.SubjectAlternativeNames{Match: v1.SubjectAlternativeNameMatchers{Exact: []string{"gateway.mesh.local"}}},
		},
	}
	scfg, mode, err := Server(listenerTLS)
	if err != nil || mode != v1.TLSModeStrict {
		t.Fatalf("Server: %v %v", mode, err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	echoServer(t, Listen(ln, scfg, false))

	policy := func(sans []string, withCert bool) *v1.ClientPolicyTLS {
		p := &v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.caFile}}}}
		if sans != nil {
			p.Validation.SubjectAlternativeNames = &v1.SubjectAlternativeNames{Match: v1.SubjectAlternativeNameMatchers{Exact: sans}}
		}
		if withCert {
			p.Certificate = &v1.ClientTLSCertificate{File: &v1.FileCertificate{CertificateChain: cliCert, PrivateKey: cliKey}}
		}
		return p
	}
	cases := []struct {
		name    string
		policy  *v1.ClientPolicyTLS
		wantErr string
	}{
		{"matching SAN and client cert", policy([]string{"llm.mesh.local"}, true), ""},
		{"no SAN list: chain only", policy(nil, true), ""},
		{"server SAN mismatch", policy([]string{"other.mesh.local"}, true), "match none"},
		{"no client cert under mutual TLS", policy(nil, false), "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, err := Client(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
			var got string
			if err == nil {
				got, err = roundTrip(c)
			}
			switch {
			case tc.wantErr == "" && (err != nil || got != "echo: hello\n"):
				t.Fatalf("got %q, %v", got, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
			}
		})
	}
}

func TestClientRejectsUntrustedServer(t *testing.T) {
	trusted, other := newPKI(t), newPKI(t)
	cert, key := other.issue(t, "server", 2, "llm")
	scfg, _, err := Server(&v1.ListenerTLS{Mode: v1.TLSModeStrict, Certificate: v1.ListenerTLSCertificate{File: &v1.FileCertificate{CertificateChain: cert, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	echoServer(t, Listen(ln, scfg, false))
	ccfg, _ := Client(&v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: trusted.caFile}}}})
	c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err == nil {
		_, err = roundTrip(c)
	}
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("untrusted server accepted: %v", err)
	}
}

func TestPermissiveTakesTLSAndPlaintext(t *testing.T) {
	p := newPKI(t)
	cert, key := p.issue(t, "server", 2, "llm")
	scfg, mode, _ := Server(&v1.ListenerTLS{Mode: v1.TLSModePermissive, Certificate: v1.ListenerTLSCertificate{File: &v1.FileCertificate{CertificateChain: cert, PrivateKey: key}}})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	echoServer(t, Listen(ln, scfg, mode == v1.TLSModePermissive))

	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(plain); err != nil || got != "echo: hello\n" {
		t.Fatalf("plaintext on a PERMISSIVE listener: %q %v", got, err)
	}
	ccfg, _ := Client(&v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.caFile}}}})
	tc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(tc); err != nil || got != "echo: hello\n" {
		t.Fatalf("TLS on a PERMISSIVE listener: %q %v", got, err)
	}
}

func TestCertificateRotationIsPickedUp(t *testing.T) {
	old := ReloadCheck
	ReloadCheck = 0
	defer func() { ReloadCheck = old }()
	p := newPKI(t)
	cert, key := p.issue(t, "server", 10, "llm")
	kp, err := newKeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := kp.get()
	// Rotate: same paths, new certificate, newer mtime.
	p.issue(t, "server", 11, "llm")
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(cert, future, future)
	os.Chtimes(key, future, future)
	second, _ := kp.get()
	l1, _ := x509.ParseCertificate(first.Certificate[0])
	l2, _ := x509.ParseCertificate(second.Certificate[0])
	if l1.SerialNumber.Cmp(l2.SerialNumber) == 0 {
		t.Fatal("rotated certificate not picked up")
	}
}

func TestDisabledAndUnenforced(t *testing.T) {
	if cfg, mode, err := Server(&v1.ListenerTLS{Mode: v1.TLSModeDisabled}); cfg != nil || mode != v1.TLSModeDisabled || err != nil {
		t.Fatalf("DISABLED: %v %v %v", cfg, mode, err)
	}
	no := false
	if cfg, err := Client(&v1.ClientPolicyTLS{Enforce: &no}); cfg != nil || err != nil {
		t.Fatalf("enforce false: %v %v", cfg, err)
	}
	if !AppliesTo(&v1.ClientPolicyTLS{}, 443) || AppliesTo(&v1.ClientPolicyTLS{Ports: []v1.PortNumber{8443}}, 443) {
		t.Fatal("AppliesTo ports")
	}
}
