package proxy

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/wire"
)

// removeHopByHop deletes the hop-by-hop fields of h: every field named in
// any Connection line (RFC 9110 §7.6.1), then the fixed set. It returns the
// Upgrade protocol when keepUpgrade is set and the message asks to upgrade
// to WebSocket, in which case the caller re-adds Connection and Upgrade.
func removeHopByHop(h http.Header, keepUpgrade bool) (upgrade string) {
	conn := h["Connection"]
	if keepUpgrade && len(h["Upgrade"]) > 0 && hasToken(conn, "upgrade") {
		for _, v := range h["Upgrade"] {
			if hasToken([]string{v}, "websocket") {
				upgrade = "websocket"
			}
		}
	}
	wire.RemoveHopByHop(h)
	return upgrade
}

// hasToken reports whether the comma-separated lists in vals contain token
// (case-insensitive).
func hasToken(vals []string, token string) bool { return wire.HasToken(vals, token) }

// viaLoop reports whether any Via entry names pseudonym as its
// received-by (RFC 9110 §7.6.3: "1.1 name" or "1.1 name:port",
// optionally followed by a comment).
func viaLoop(vals []string, pseudonym string) bool {
	for _, v := range vals {
		for v != "" {
			var part string
			part, v = wire.NextElement(v)
			sp := strings.IndexByte(part, ' ')
			if sp < 0 {
				continue
			}
			by := part[sp+1:]
			if i := strings.IndexAny(by, " \t"); i >= 0 {
				by = by[:i]
			}
			if by == pseudonym || strings.HasPrefix(by, pseudonym) && by[len(pseudonym)] == ':' {
				return true
			}
		}
	}
	return false
}

// viaValue is this hop's Via entry for a message received with the
// given protocol version.
func (h *Handler) viaValue(major, minor int) string {
	if major == 1 && minor == 0 {
		return h.via10
	}
	return h.via11
}

// addVia appends this hop's entry to h's Via, for a message received with
// the given protocol version. A message without Via shares a prepared
// value instead of allocating one; it is clipped, so adding to it later
// copies.
func (h *Handler) addVia(hdr http.Header, major, minor int) {
	if prev := hdr["Via"]; len(prev) > 0 {
		hdr["Via"] = append(prev, h.viaValue(major, minor))
		return
	}
	v := h.via11s
	if major == 1 && minor == 0 {
		v = h.via10s
	}
	hdr["Via"] = v[:1:1]
}

// maxForwards applies RFC 9110 §7.6.2 to TRACE and OPTIONS: it reports
// whether this proxy must answer itself (the value is zero), and otherwise
// decrements the value. An invalid value is ignored.
func maxForwards(r *http.Request) (answerHere bool) {
	if r.Method != http.MethodTrace && r.Method != http.MethodOptions {
		return false
	}
	vals := r.Header["Max-Forwards"]
	if len(vals) == 0 {
		return false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(vals[0]), 10, 31)
	if err != nil {
		return false
	}
	if n == 0 {
		return true
	}
	r.Header["Max-Forwards"] = []string{strconv.FormatUint(n-1, 10)}
	return false
}

// Forwarded-for modes (the forwarded_for configuration key).
const (
	ForwardedOff       = "off"
	ForwardedAdd       = "add"
	ForwardedForwarded = "forwarded"
	ForwardedDelete    = "delete"
)

// applyForwarded adds or removes client-address headers per mode. By
// default (off) nothing about the client is added: a proxy must not leak
// its users' addresses unless its operator asks for it.
func applyForwarded(h http.Header, mode, remoteAddr string) {
	switch mode {
	case ForwardedAdd:
		ip, _, err := net.SplitHostPort(remoteAddr)
		if err == nil {
			if prior := h["X-Forwarded-For"]; len(prior) > 0 {
				ip = strings.Join(prior, ", ") + ", " + ip
			}
			h["X-Forwarded-For"] = []string{ip}
		}
	case ForwardedForwarded:
		ip, _, err := net.SplitHostPort(remoteAddr)
		if err == nil {
			node := ip
			if strings.IndexByte(ip, ':') >= 0 {
				node = `"[` + ip + `]"` // RFC 7239 §6: IPv6 is quoted and bracketed
			}
			h["Forwarded"] = append(h["Forwarded"], "for="+node)
		}
	case ForwardedDelete:
		delete(h, "X-Forwarded-For")
		delete(h, "Forwarded")
	}
}
