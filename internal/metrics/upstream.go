package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"syscall"
)

// Reasons a connection to an origin failed, the reason label of
// sluice_upstream_connect_errors_total.
const (
	reasonDNS         = "dns"         // the name did not resolve
	reasonTimeout     = "timeout"     // the connection (or TLS handshake) timed out
	reasonRefused     = "refused"     // the origin refused the connection
	reasonUnreachable = "unreachable" // no route to the host or network
	reasonTLS         = "tls"         // the TLS handshake failed: certificate, alert, not TLS
	reasonOther       = "other"
)

var connectReasons = [...]string{reasonDNS, reasonTimeout, reasonRefused, reasonUnreachable, reasonTLS, reasonOther}

// connectReason classifies a failed connection attempt. It reports false
// for a cancellation, which is the client's doing (it went away), not the
// origin's.
//
// It knows the standard library's errors only, not internal/dial's, so
// that the dialer may import this package: dial's ResolveError and
// DialError wrap the standard errors it looks for.
func connectReason(err error) (string, bool) {
	if errors.Is(err, context.Canceled) {
		return "", false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return reasonDNS, true
	}
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var header tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return reasonTLS, true
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return reasonTimeout, true
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused, true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return reasonUnreachable, true
	}
	return reasonOther, true
}
