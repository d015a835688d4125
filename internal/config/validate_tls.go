package config

import (
	"errors"
	"io/fs"
	"os"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/telemetry"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	notYetUseFile = "not supported by aimesh yet: use file"
	maxFilePath   = 255
	maxSAN        = 254
	maxJSONLog    = 100
	maxTextLog    = 1000
)

// listenerTLS checks a node or gateway listener's TLS.
func (o *rep) listenerTLS(p *field.Path, t *v1.ListenerTLS) {
	if t == nil {
		return
	}
	o.enum(p.Child("mode"), string(t.Mode), tlsModes)
	c, cp := t.Certificate, p.Child("certificate")
	o.exactlyOne(cp, []string{"acm", "file", "sds"}, c.ACM != nil, c.File != nil, c.SDS != nil)
	if c.ACM != nil {
		o.errorf(cp.Child("acm"), notYetUseFile)
	}
	if c.SDS != nil {
		o.errorf(cp.Child("sds"), notYetUseFile)
	}
	o.fileCertificate(cp.Child("file"), c.File)
	if val := t.Validation; val != nil {
		vp := p.Child("validation")
		tr, tp := val.Trust, vp.Child("trust")
		o.exactlyOne(tp, []string{"file", "sds"}, tr.File != nil, tr.SDS != nil)
		if tr.SDS != nil {
			o.errorf(tp.Child("sds"), notYetUseFile)
		}
		if tr.File != nil {
			o.file(tp.Child("file", "certificateChain"), tr.File.CertificateChain)
		}
		o.subjectAlternativeNames(vp.Child("subjectAlternativeNames"), val.SubjectAlternativeNames)
	}
}

// clientPolicy checks how a node or gateway talks to its backends.
func (o *rep) clientPolicy(p *field.Path, cp *v1.ClientPolicy) {
	if cp == nil || cp.TLS == nil {
		return
	}
	t, p := cp.TLS, p.Child("tls")
	for i, port := range t.Ports {
		o.port(p.Child("ports").Index(i), port)
	}
	if c := t.Certificate; c != nil {
		cp := p.Child("certificate")
		o.exactlyOne(cp, []string{"file", "sds"}, c.File != nil, c.SDS != nil)
		if c.SDS != nil {
			o.errorf(cp.Child("sds"), notYetUseFile)
		}
		o.fileCertificate(cp.Child("file"), c.File)
	}
	vp := p.Child("validation")
	tr, tp := t.Validation.Trust, vp.Child("trust")
	o.exactlyOne(tp, []string{"acm", "file", "sds"}, tr.ACM != nil, tr.File != nil, tr.SDS != nil)
	if tr.ACM != nil {
		o.errorf(tp.Child("acm"), notYetUseFile)
	}
	if tr.SDS != nil {
		o.errorf(tp.Child("sds"), notYetUseFile)
	}
	if tr.File != nil {
		o.file(tp.Child("file", "certificateChain"), tr.File.CertificateChain)
	}
	o.subjectAlternativeNames(vp.Child("subjectAlternativeNames"), t.Validation.SubjectAlternativeNames)
}

// backendDefaults checks a node's or gateway's default client policy.
func (o *rep) backendDefaults(p *field.Path, bd *v1.BackendDefaults) {
	if bd != nil {
		o.clientPolicy(p.Child("clientPolicy"), bd.ClientPolicy)
	}
}

func (o *rep) subjectAlternativeNames(p *field.Path, s *v1.SubjectAlternativeNames) {
	if s == nil {
		return
	}
	ep := p.Child("match", "exact")
	if len(s.Match.Exact) == 0 {
		o.errorf(ep, "required: at least one subject alternative name the peer must present")
	}
	for i, san := range s.Match.Exact {
		o.length(ep.Index(i), san, 1, maxSAN)
	}
}

// fileCertificate checks a PEM certificate chain and key on disk.
func (o *rep) fileCertificate(p *field.Path, f *v1.FileCertificate) {
	if f == nil {
		return
	}
	o.file(p.Child("certificateChain"), f.CertificateChain)
	o.file(p.Child("privateKey"), f.PrivateKey)
}

// file checks that a TLS file exists, except in Kubernetes mode where it
// is mounted into the pod later. Relative paths are relative to the working
// directory aimesh runs in.
func (o *rep) file(p *field.Path, path string) {
	if !o.length(p, path, 1, maxFilePath) || o.v.opts.Kubernetes {
		return
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		o.errorf(p, "file %q not found", path)
	case err != nil:
		o.errorf(p, "cannot read %q: %v", path, errors.Unwrap(err))
	case st.IsDir():
		o.errorf(p, "%q is a directory, not a PEM file", path)
	}
}

// logging checks a node's or gateway's access log.
func (o *rep) logging(p *field.Path, l *v1.Logging) {
	if l == nil || l.AccessLog == nil || l.AccessLog.File == nil {
		return
	}
	f, fp := l.AccessLog.File, p.Child("accessLog", "file")
	if f.Path == "" {
		o.errorf(fp.Child("path"), "required: a file, or /dev/stdout")
	} else {
		o.length(fp.Child("path"), f.Path, 1, maxFilePath)
	}
	if f.Format == nil {
		return
	}
	fm, p := f.Format, fp.Child("format")
	o.exactlyOne(p, []string{"json", "text"}, fm.JSON != nil, fm.Text != nil)
	if fm.JSON != nil {
		if len(fm.JSON) == 0 {
			o.errorf(p.Child("json"), "must have at least one {key, value} entry")
		}
		for i, kv := range fm.JSON {
			o.length(p.Child("json").Index(i).Child("key"), kv.Key, 1, maxJSONLog)
			o.length(p.Child("json").Index(i).Child("value"), kv.Value, 1, maxJSONLog)
		}
	}
	if fm.Text != nil {
		o.length(p.Child("text"), *fm.Text, 1, maxTextLog)
	}
	if (fm.JSON != nil) == (fm.Text != nil) || (fm.JSON != nil && len(fm.JSON) == 0) {
		return // already reported above
	}
	if err := telemetry.ValidateFormat(fm); err != nil {
		var fe *telemetry.FormatError
		switch {
		case errors.As(err, &fe) && fe.Key != "":
			for i, kv := range fm.JSON {
				if kv.Key == fe.Key {
					o.errorf(p.Child("json").Index(i).Child("value"), "%s", fe.Error())
					return
				}
			}
			o.errorf(p.Child("json"), "%s", fe.Error())
		case fm.Text != nil:
			o.errorf(p.Child("text"), "%v", err)
		default:
			o.errorf(p, "%v", err)
		}
	}
}
