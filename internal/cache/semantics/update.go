package semantics

import (
	"net/http"

	"sluice/internal/wire"
)

// hopByHop are the fields that describe one connection, not the response
// (RFC 9110 §7.6.1), and the obsolete ones that act the same way; a cache
// does not store them (RFC 9111 §3.1).
var hopByHop = [...]string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding",
	"Upgrade", "Trailer", "Proxy-Authenticate", "Proxy-Authorization",
}

// UpdateStoredHeader returns the header of a stored response freshened by
// fresh, the header of a 304 or of a HEAD response to a revalidation
// (RFC 9111 §3.2, §4.3.4, §4.3.5): stored with every field of fresh
// replacing all lines of the same name, except Content-Length (fresh
// describes no content) and hop-by-hop fields (the list above and any
// named in fresh's Connection), which are not taken from fresh.
//
// Age is the exception the other way: when fresh has none, stored's Age is
// dropped too, because it described the age of the old message; RFC 9111
// §4.2.3 computes the freshened response's age from fresh's Age and Date.
// The caller should already have added a Date to a fresh that lacked one
// (RFC 9110 §6.6.1). Neither argument is modified.
func UpdateStoredHeader(stored, fresh http.Header) http.Header {
	out := stored.Clone()
	if out == nil {
		out = http.Header{}
	}
	if _, ok := fresh["Age"]; !ok {
		delete(out, "Age")
	}
	conn := fresh["Connection"]
	for k, v := range fresh {
		k = http.CanonicalHeaderKey(k)
		if k == "Content-Length" || isHopByHop(k) || wire.HasToken(conn, k) {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

func isHopByHop(k string) bool {
	for _, h := range hopByHop {
		if k == h {
			return true
		}
	}
	return false
}
