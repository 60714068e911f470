package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/tunnel"
)

// connect opens a CONNECT tunnel (RFC 9110 §9.3.6). The 200 is sent only
// after the connection to the destination is up, so a client never
// mistakes a failed dial for an open tunnel.
func (h *Handler) connect(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rs *Rules, user string) {
	target := r.URL.Host
	if target == "" {
		target = r.Host
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || port == "" {
		h.fail(w, r, rec, failure{http.StatusBadRequest, "Bad request", "CONNECT needs a host:port target."}, target)
		return
	}
	if !slices.Contains(h.connectPorts, port) {
		h.fail(w, r, rec, failure{http.StatusForbidden, "Port not allowed", "CONNECT to port " + port + " is not allowed by this proxy (allowed: " + strings.Join(h.connectPorts, ", ") + ")."}, target)
		return
	}
	if viaLoop(r.Header["Via"], h.pseudonym) || h.isSelf(target, "") {
		h.fail(w, r, rec, failure{http.StatusLoopDetected, "Loop detected", "The tunnel would lead back to this proxy."}, target)
		return
	}
	u := "https://" + target + "/"
	if port == "443" {
		u = "https://" + host + "/"
	}
	lhost := strings.ToLower(strings.Trim(host, "[]"))
	portN, _ := strconv.Atoi(port)
	ctx, ok := h.allowed(w, r, rec, rs, user, lhost, portN)
	if !ok {
		return
	}
	if h.blocked(w, r, rec, rs, u, lhost, true) {
		return
	}
	up, err := h.dial(ctx, "tcp", target)
	rec.Hierarchy = "HIER_DIRECT"
	if err != nil {
		f, gone := classify(err, host)
		if gone {
			rec.Result, rec.Error = "TCP_TUNNEL_ABORTED", f.title
			return
		}
		h.fail(w, r, rec, f, target)
		return
	}
	if ta, ok := up.RemoteAddr().(*net.TCPAddr); ok {
		rec.Upstream = ta.IP.String()
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		h.fail(w, r, rec, failure{http.StatusInternalServerError, "Cannot tunnel", "This connection cannot carry a tunnel."}, target)
		return
	}
	client.SetDeadline(time.Time{})
	rec.Status, rec.Result = http.StatusOK, "TCP_TUNNEL"
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		up.Close()
		return
	}
	if err := sendBuffered(brw.Reader, up); err != nil {
		client.Close()
		up.Close()
		return
	}
	if h.tunnelOpened != nil {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		defer h.tunnelOpened(target, ip, user)()
	}
	h.pump(client, up, rec)
}

// sendBuffered writes what the client sent after its request head (a TLS
// ClientHello, say) and the server had already buffered.
func sendBuffered(br *bufio.Reader, dst io.Writer) error {
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := dst.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// pump relays a tunnel until both sides are done and records what passed.
func (h *Handler) pump(client net.Conn, up tunnel.Conn, rec *accesslog.Record) {
	done := h.tunnels.Track(client, up)
	res := tunnel.Pump(client, up, h.idle)
	done()
	rec.BytesIn += res.Up
	rec.BytesOut += res.Down
	if res.Idle {
		rec.Error = "tunnel idle timeout"
	}
}

// relayUpgrade completes a protocol switch (a WebSocket handshake): it sends
// the origin's 101 to the client, then relays bytes both ways.
func (h *Handler) relayUpgrade(w http.ResponseWriter, r *http.Request, resp *http.Response, rec *accesslog.Record) {
	up, ok := resp.Body.(tunnel.Conn)
	proto := resp.Header["Upgrade"]
	if !ok || len(proto) == 0 || !hasToken(proto, "websocket") {
		resp.Body.Close()
		h.fail(w, r, rec, failure{http.StatusBadGateway, "Bad upgrade", r.URL.Host + " switched to a protocol that was not requested."}, r.URL.Host)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		resp.Body.Close()
		h.fail(w, r, rec, failure{http.StatusInternalServerError, "Cannot upgrade", "This connection cannot be upgraded."}, r.URL.Host)
		return
	}
	client.SetDeadline(time.Time{})
	removeHopByHop(resp.Header, false)
	h.addVia(resp.Header, resp.ProtoMajor, resp.ProtoMinor)
	resp.Header["Connection"] = []string{"Upgrade"}
	resp.Header["Upgrade"] = proto
	bw := brw.Writer
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(bw)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		client.Close()
		resp.Body.Close()
		return
	}
	rec.Status = http.StatusSwitchingProtocols
	if err := sendBuffered(brw.Reader, up); err != nil {
		client.Close()
		resp.Body.Close()
		return
	}
	h.pump(client, up, rec)
}
