package tlsconfig

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/tlsconfig/tlstest"
)

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
	p := tlstest.New(t)
	srvCert, srvKey := p.Issue(t, "server", "llm.mesh.local")
	cliCert, cliKey := p.Issue(t, "client", "gateway.mesh.local")
	listenerTLS := &v1.ListenerTLS{
		Mode:        v1.TLSModeStrict,
		Certificate: v1.ListenerTLSCertificate{File: &v1.FileCertificate{CertificateChain: srvCert, PrivateKey: srvKey}},
		Validation: &v1.ListenerTLSValidation{
			Trust:                   v1.ListenerTLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.CAFile}},
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
		p := &v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.CAFile}}}}
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
	trusted, other := tlstest.New(t), tlstest.New(t)
	cert, key := other.Issue(t, "server", "llm")
	scfg, _, err := Server(&v1.ListenerTLS{Mode: v1.TLSModeStrict, Certificate: v1.ListenerTLSCertificate{File: &v1.FileCertificate{CertificateChain: cert, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	echoServer(t, Listen(ln, scfg, false))
	ccfg, _ := Client(&v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: trusted.CAFile}}}})
	c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err == nil {
		_, err = roundTrip(c)
	}
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("untrusted server accepted: %v", err)
	}
}

func TestPermissiveTakesTLSAndPlaintext(t *testing.T) {
	p := tlstest.New(t)
	cert, key := p.Issue(t, "server", "llm")
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
	ccfg, _ := Client(&v1.ClientPolicyTLS{Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{File: &v1.FileTrust{CertificateChain: p.CAFile}}}})
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
	p := tlstest.New(t)
	cert, key := p.Issue(t, "server", "llm")
	kp, err := newKeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := kp.get()
	// Rotate: same paths, new certificate, newer mtime.
	p.Issue(t, "server", "llm")
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
