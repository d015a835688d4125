package kube

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
)

// Condition reasons. Besides these, ResolvedRefs=False uses
// <Kind>NotFound and <Kind>NotReady (e.g. VirtualNodeNotFound).
const (
	ReasonAccepted            = "Accepted"
	ReasonInvalid             = "Invalid"
	ReasonResolvedRefs        = "ResolvedRefs"
	ReasonServed              = "Served"
	ReasonApplyFailed         = "ApplyFailed"
	ReasonServiceNotFound     = "ServiceNotFound"
	ReasonServicePortNotFound = "ServicePortNotFound"
)

// problem is one reason a resource is not (fully) served, as status shows
// it.
type problem struct {
	// ref is set for references that do not resolve (ResolvedRefs);
	// otherwise the problem makes the resource invalid (Accepted).
	ref     bool
	reason  string
	message string
}

// notFoundRe matches the validator's messages about references.
var notFoundRe = regexp.MustCompile(`^(Mesh|VirtualNode|VirtualService|VirtualRouter|VirtualGateway) "([^"]*)" not found(?: in namespace "([^"]*)")?`)

// noGatewayRe matches a GatewayRoute without a gateway to attach to.
var noGatewayRe = regexp.MustCompile(`there is no (VirtualGateway) `)

// routeIndexRe finds the route index in a VirtualRouter field path.
var routeIndexRe = regexp.MustCompile(`^spec\.routes\[(\d+)\]`)

// classify turns a validation problem of the resource k into a status
// problem. exists reports whether a resource of kind, namespace and name
// was selected (it exists, but was dropped, when the validator cannot
// find it); router is k's VirtualRouter, for route names, or nil.
func classify(fe *config.FieldError, k config.ObjectKey, exists func(kind, ns, name string) bool, router *v1.VirtualRouter) problem {
	where := fe.Path
	if router != nil {
		if m := routeIndexRe.FindStringSubmatch(fe.Path); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(router.Spec.Routes) {
				where = "route " + router.Spec.Routes[i].Name
			}
		}
	}
	if m := notFoundRe.FindStringSubmatch(fe.Reason); m != nil {
		kind, name, ns := m[1], m[2], m[3]
		if ns == "" && kind != v1.KindMesh {
			ns = k.Namespace
		}
		if exists(kind, ns, name) {
			return problem{ref: true, reason: kind + "NotReady",
				message: prefix(where, fmt.Sprintf("%s %q is not served: it has problems of its own (see its status)", kind, name))}
		}
		return problem{ref: true, reason: kind + "NotFound", message: prefix(where, fe.Reason)}
	}
	if m := noGatewayRe.FindStringSubmatch(fe.Reason); m != nil {
		return problem{ref: true, reason: m[1] + "NotFound", message: prefix(where, fe.Reason)}
	}
	at := fe.Path
	if where != fe.Path && at != "" {
		at = fe.Path + " (" + where + ")"
	}
	return problem{reason: ReasonInvalid, message: prefix(at, fe.Reason)}
}

func prefix(where, msg string) string {
	if where == "" {
		return msg
	}
	return where + ": " + msg
}

// maxMessage keeps condition messages well under the API's 32768 bytes.
const maxMessage = 4096

// joinMessages joins messages with "; ", cut to maxMessage bytes.
func joinMessages(msgs []string) string {
	s := strings.Join(msgs, "; ")
	if len(s) > maxMessage {
		cut := maxMessage - len(" ... (truncated)")
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + " ... (truncated)"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
