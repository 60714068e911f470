package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"sluice/internal/dial"
	"sluice/internal/server"
	"sluice/internal/upstream"
)

// failure is an error turned into what the client is told.
type failure struct {
	status int
	title  string // short, for the page heading and the log
	detail string // one sentence for the user, naming the host
}

// classify turns an error from dialing or talking to an origin into a
// status and a message. It is the one place where that mapping lives
// (network timeout → 504, denied → 403, everything else → 502).
// clientGone is true when the client disconnected: nothing is sent then.
func classify(err error, host string) (f failure, clientGone bool) {
	if errors.Is(err, context.Canceled) {
		return failure{status: 0, title: "client went away"}, true
	}
	if errors.Is(err, server.ErrBodyTooLarge) {
		// A chunked upload grew past max_body_bytes.
		return failure{413, "Request body too large", "The request body is larger than this proxy accepts; the upload to " + host + " was cut off."}, false
	}
	var berr *upstream.RequestBodyError
	if errors.As(err, &berr) {
		// The client's body broke off or was malformed: its fault, not
		// the origin's. If it is still there, it hears why.
		return failure{400, "Bad request body", "The request body could not be read completely; nothing more was sent to " + host + "."}, false
	}
	var denied *dial.DeniedError
	if errors.As(err, &denied) {
		return failure{403, "Destination denied", denied.Error()}, false
	}
	var rerr *dial.ResolveError
	if errors.As(err, &rerr) {
		if rerr.Timeout() {
			return failure{504, "Name lookup timed out", rerr.Error()}, false
		}
		return failure{502, "Name does not resolve", rerr.Error()}, false
	}
	var derr *dial.DialError
	if errors.As(err, &derr) {
		if derr.Timeout() {
			return failure{504, "Connection timed out", derr.Error()}, false
		}
		return failure{502, "Cannot connect", derr.Error()}, false
	}
	var terr *upstream.TLSError
	if errors.As(err, &terr) {
		return failure{502, "TLS handshake failed", "The secure connection to " + host + " failed: the origin's certificate could not be verified or the handshake broke."}, false
	}
	if errors.Is(err, upstream.ErrHeaderTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return failure{504, "Origin too slow", host + " did not send a response in time."}, false
	}
	if errors.Is(err, upstream.ErrProtocol) {
		return failure{502, "Bad response from origin", host + " sent a response that breaks the HTTP protocol: " + protocolDetail(err)}, false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failure{504, "Origin too slow", host + " did not answer in time."}, false
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return failure{502, "Connection reset", host + " reset the connection before answering."}, false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return failure{502, "No response", host + " closed the connection without answering."}, false
	}
	return failure{502, "Origin failed", "The connection to " + host + " failed before a response arrived."}, false
}

// protocolDetail returns the part of a protocol error after the sentinel's
// text, which describes what was wrong without internal detail.
func protocolDetail(err error) string {
	msg := err.Error()
	prefix := upstream.ErrProtocol.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):] + "."
	}
	return "malformed response."
}
