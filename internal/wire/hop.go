package wire

import "net/http"

// hopByHop are removed in both directions whatever Connection says
// (RFC 9110 §7.6.1; Proxy-Connection and Keep-Alive are de-facto ones,
// Proxy-Authorization/-Authenticate belong to this hop).
var hopByHop = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Proxy-Authorization",
	"Proxy-Authenticate",
}

// RemoveHopByHop deletes the hop-by-hop fields of h: every field named in
// any Connection line (RFC 9110 §7.6.1), then the fixed set. The proxy
// uses it on every message it forwards, the cache on what it stores
// (RFC 9111 §3.1).
func RemoveHopByHop(h http.Header) {
	for _, line := range h["Connection"] {
		for line != "" {
			var name string
			name, line = NextElement(line)
			if name == "" {
				continue
			}
			if _, ok := h[name]; ok {
				delete(h, name)
			} else {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}
