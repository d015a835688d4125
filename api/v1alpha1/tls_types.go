package v1alpha1

// ListenerTLSMode says whether a listener takes TLS.
// +kubebuilder:validation:Enum=STRICT;PERMISSIVE;DISABLED
type ListenerTLSMode string

const (
	TLSModeStrict     ListenerTLSMode = "STRICT"
	TLSModePermissive ListenerTLSMode = "PERMISSIVE"
	TLSModeDisabled   ListenerTLSMode = "DISABLED"
)

// ACMCertificate is an AWS Certificate Manager certificate. aimesh serves
// certificates from files or SDS names resolved to files; ACM is accepted
// by the schema for App Mesh compatibility and refused by validation.
type ACMCertificate struct {
	// CertificateARN of the certificate.
	CertificateARN string `json:"certificateArn"`
}

// FileCertificate is a PEM certificate chain and key on local disk.
type FileCertificate struct {
	// CertificateChain is the path of the PEM certificate chain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	CertificateChain string `json:"certificateChain"`
	// PrivateKey is the path of the PEM private key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	PrivateKey string `json:"privateKey"`
}

// SDSSecret names a secret delivered by the Secret Discovery Service.
type SDSSecret struct {
	// SecretName of the secret.
	SecretName string `json:"secretName"`
}

// ListenerTLSCertificate is the certificate a listener presents. Exactly
// one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.acm) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.sds) ? 1 : 0) == 1",message="exactly one of acm, file or sds must be set"
type ListenerTLSCertificate struct {
	// +optional
	ACM *ACMCertificate `json:"acm,omitempty"`
	// +optional
	File *FileCertificate `json:"file,omitempty"`
	// +optional
	SDS *SDSSecret `json:"sds,omitempty"`
}

// FileTrust is a PEM bundle of trusted certificate authorities.
type FileTrust struct {
	// CertificateChain is the path of the PEM CA bundle.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	CertificateChain string `json:"certificateChain"`
}

// ACMTrust names ACM Private CA authorities (refused by aimesh validation).
type ACMTrust struct {
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	CertificateAuthorityARNs []string `json:"certificateAuthorityArns"`
}

// SubjectAlternativeNames restricts the peer certificate's SANs.
type SubjectAlternativeNames struct {
	Match SubjectAlternativeNameMatchers `json:"match"`
}

// SubjectAlternativeNameMatchers lists accepted SANs.
type SubjectAlternativeNameMatchers struct {
	// Exact SAN values, one of which the peer must present.
	Exact []string `json:"exact"`
}

// ListenerTLSValidationTrust is where a listener finds the CAs it trusts
// for client certificates (mutual TLS).
// +kubebuilder:validation:XValidation:rule="(has(self.file) ? 1 : 0) + (has(self.sds) ? 1 : 0) == 1",message="exactly one of file or sds must be set"
type ListenerTLSValidationTrust struct {
	// +optional
	File *FileTrust `json:"file,omitempty"`
	// +optional
	SDS *SDSSecret `json:"sds,omitempty"`
}

// ListenerTLSValidation turns on mutual TLS on a listener.
type ListenerTLSValidation struct {
	Trust ListenerTLSValidationTrust `json:"trust"`
	// +optional
	SubjectAlternativeNames *SubjectAlternativeNames `json:"subjectAlternativeNames,omitempty"`
}

// ListenerTLS terminates TLS on a listener.
type ListenerTLS struct {
	// Mode: STRICT (TLS only), PERMISSIVE or DISABLED.
	Mode ListenerTLSMode `json:"mode"`
	// Certificate the listener presents.
	Certificate ListenerTLSCertificate `json:"certificate"`
	// Validation of client certificates (mutual TLS).
	// +optional
	Validation *ListenerTLSValidation `json:"validation,omitempty"`
}

// ClientTLSCertificate is the certificate aimesh presents to upstreams.
// +kubebuilder:validation:XValidation:rule="(has(self.file) ? 1 : 0) + (has(self.sds) ? 1 : 0) == 1",message="exactly one of file or sds must be set"
type ClientTLSCertificate struct {
	// +optional
	File *FileCertificate `json:"file,omitempty"`
	// +optional
	SDS *SDSSecret `json:"sds,omitempty"`
}

// TLSValidationTrust is where aimesh finds the CAs it trusts for upstreams.
// +kubebuilder:validation:XValidation:rule="(has(self.acm) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.sds) ? 1 : 0) == 1",message="exactly one of acm, file or sds must be set"
type TLSValidationTrust struct {
	// +optional
	ACM *ACMTrust `json:"acm,omitempty"`
	// +optional
	File *FileTrust `json:"file,omitempty"`
	// +optional
	SDS *SDSSecret `json:"sds,omitempty"`
}

// TLSValidationContext validates upstream certificates.
type TLSValidationContext struct {
	Trust TLSValidationTrust `json:"trust"`
	// +optional
	SubjectAlternativeNames *SubjectAlternativeNames `json:"subjectAlternativeNames,omitempty"`
}

// ClientPolicyTLS originates TLS to upstreams.
type ClientPolicyTLS struct {
	// Enforce TLS to the upstream. Default true.
	// +optional
	Enforce *bool `json:"enforce,omitempty"`
	// Ports the policy applies to; empty means all.
	// +optional
	Ports []PortNumber `json:"ports,omitempty"`
	// Certificate presented for mutual TLS.
	// +optional
	Certificate *ClientTLSCertificate `json:"certificate,omitempty"`
	// Validation of the upstream's certificate.
	Validation TLSValidationContext `json:"validation"`
}

// ClientPolicy is how aimesh talks to a backend.
type ClientPolicy struct {
	// +optional
	TLS *ClientPolicyTLS `json:"tls,omitempty"`
}

// BackendDefaults apply to every backend unless it overrides them.
type BackendDefaults struct {
	// +optional
	ClientPolicy *ClientPolicy `json:"clientPolicy,omitempty"`
}
