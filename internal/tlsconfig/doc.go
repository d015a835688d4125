// Package tlsconfig builds crypto/tls configurations from App Mesh's TLS
// settings: listener TLS (termination, with optional mutual TLS against a
// trusted CA bundle and subject alternative names) and client policy TLS
// (origination to upstreams, validating their certificates against a CA
// bundle and, when given, exact SANs rather than the dialled address, as
// App Mesh did).
//
// Certificates come from files. They are re-read when their modification
// time changes (checked at most every ReloadCheck), so cert-manager or a
// mounted Secret can rotate them without a restart. ACM and SDS sources
// are refused by config validation before they reach this package.
package tlsconfig
