package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sluice/internal/wire"
)

// requestError is a request the server refuses before any handler sees it.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return strconv.Itoa(e.status) + " " + e.msg }

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }

// errIdle means the connection closed or timed out between requests: not
// an error to answer.
var errIdle = errors.New("connection closed between requests")

// readHead reads one request head (request line through the blank line)
// into c.head, at most limit bytes. Up to a few empty lines before the
// request line are skipped (RFC 9112 §2.2).
func (c *conn) readHead(br *bufio.Reader, limit int) (string, error) {
	head := c.head[:0]
	lineStart := 0
	skipped := 0
	for {
		frag, err := br.ReadSlice('\n')
		head = append(head, frag...)
		if len(head) > limit {
			return "", &requestError{http.StatusRequestHeaderFieldsTooLarge, "request header larger than " + strconv.Itoa(limit) + " bytes"}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(head) == 0 || (err == io.EOF && lineStart == 0 && skipped > 0 && len(head) == lineStart) {
				return "", errIdle
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return "", &requestError{http.StatusRequestTimeout, "request header not received in time"}
			}
			return "", errIdle // the client went away mid-header: nobody to answer
		}
		line := head[lineStart:]
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			if lineStart == 0 {
				if skipped++; skipped > 4 {
					return "", badRequest("empty lines instead of a request")
				}
				head = head[:0]
				continue
			}
			break
		}
		lineStart = len(head)
	}
	if cap(head) <= 16<<10 {
		c.head = head
	}
	return string(head), nil
}

// parseRequest builds a request from a head (RFC 9112 §3, §5, §6). It is
// strict where leniency lets requests be smuggled: whitespace before a
// colon, obs-fold, control characters, conflicting or malformed framing,
// and a Host missing, repeated or invalid are all 400.
func parseRequest(s string) (*http.Request, error) {
	r := new(http.Request)
	if err := parseRequestInto(r, s); err != nil {
		return nil, err
	}
	return r, nil
}

// parseRequestInto is parseRequest filling r, which may carry a context
// and remote address already.
func parseRequestInto(r *http.Request, s string) error {
	line, rest := cutLine(s)
	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	method := line[:sp1]
	line = line[sp1+1:]
	sp2 := strings.IndexByte(line, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	target, proto := line[:sp2], line[sp2+1:]
	if !wire.IsToken(method) {
		return badRequest("invalid method")
	}
	r.Method, r.RequestURI, r.Proto = method, target, proto
	switch proto {
	case "HTTP/1.1":
		r.ProtoMajor, r.ProtoMinor = 1, 1
	case "HTTP/1.0":
		r.ProtoMajor, r.ProtoMinor = 1, 0
	default:
		if len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && proto[5] >= '0' && proto[5] <= '9' && proto[6] == '.' && proto[7] >= '0' && proto[7] <= '9' {
			return &requestError{http.StatusHTTPVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported"}
		}
		return badRequest("malformed request line")
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return badRequest("invalid character in request target")
		}
	}

	h, err := parseFields(rest)
	if err != nil {
		return err
	}
	r.Header = h

	if err := setTarget(r, target); err != nil {
		return err
	}
	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return badRequest("more than one Host header")
	case len(hosts) == 1:
		if !validHost(hosts[0]) {
			return badRequest("invalid Host header")
		}
		if r.Host == "" {
			r.Host = hosts[0]
		}
	case r.ProtoMinor == 1 && r.Method != http.MethodConnect:
		// RFC 9112 §3.2 (CONNECT's authority is its target).
		return badRequest("missing Host header")
	}
	delete(h, "Host")

	if err := setFraming(r); err != nil {
		return err
	}
	conn := h["Connection"]
	r.Close = wire.HasToken(conn, "close") || r.ProtoMinor == 0 && !wire.HasToken(conn, "keep-alive")
	return nil
}

// setTarget interprets the request target in its four forms.
func setTarget(r *http.Request, target string) error {
	switch {
	case r.Method == http.MethodConnect:
		// authority-form: host:port, nothing else (RFC 9112 §3.2.3).
		host, port, err := net.SplitHostPort(target)
		if err != nil || host == "" || !validAuthority(target) {
			return badRequest("CONNECT needs a host:port target")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return badRequest("CONNECT target has an invalid port")
		}
		r.URL = &url.URL{Host: target}
		r.Host = target
	case target == "*":
		if r.Method != http.MethodOptions {
			return badRequest("asterisk-form is for OPTIONS only")
		}
		r.URL = &url.URL{Path: "*"}
	case target[0] == '/':
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return badRequest("malformed request target")
		}
		r.URL = u
	default:
		// absolute-form: the authority must be a plain host[:port].
		i := strings.Index(target, "://")
		if i <= 0 {
			return badRequest("malformed request target")
		}
		auth := target[i+3:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if auth == "" || !validAuthority(auth) {
			return badRequest("invalid host in request target")
		}
		if u, ok := fastAbsoluteURL(target, i, auth); ok {
			r.URL = u
			r.Host = u.Host
			return nil
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host == "" {
			return badRequest("malformed request target")
		}
		u.Scheme = strings.ToLower(u.Scheme)
		r.URL = u
		r.Host = u.Host // the absolute URI wins over Host (RFC 9112 §3.2.2)
	}
	return nil
}

// fastAbsoluteURL builds the URL of the common absolute-form target
// without net/url's general parser (4% of a cache hit's CPU): a lower-case
// http or https scheme (ending at i), the already checked authority auth,
// and a path and query of characters that need no escaping or unescaping.
// For those it gives exactly what url.ParseRequestURI gives (a
// differential fuzz test holds it to that); anything else, such as
// percent-encoding, a port that is not a number, or an empty query after
// "?", reports false and takes the general path.
func fastAbsoluteURL(target string, i int, auth string) (*url.URL, bool) {
	scheme := target[:i]
	if scheme != "http" && scheme != "https" {
		return nil, false
	}
	if strings.IndexByte(auth, '[') >= 0 {
		return nil, false // IPv6 literals: leave to net/url
	}
	if c := strings.IndexByte(auth, ':'); c >= 0 {
		port := auth[c+1:]
		if c == 0 || strings.IndexByte(port, ':') >= 0 {
			return nil, false
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return nil, false
			}
		}
	}
	rest := target[i+3+len(auth):]
	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && query == "" {
		return nil, false // ForceQuery
	}
	for j := 0; j < len(path); j++ {
		if !plainPathByte(path[j]) {
			return nil, false
		}
	}
	for j := 0; j < len(query); j++ {
		if c := query[j]; c <= ' ' || c >= 0x7f || c == '#' {
			return nil, false
		}
	}
	return &url.URL{Scheme: scheme, Host: auth, Path: path, RawQuery: query}, true
}

// plainPathByte reports whether c stands for itself in a URL path: it
// needs no percent-encoding there, so Path and its escaped form agree.
func plainPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.~$&+,/:;=@", c) >= 0
}

// validAuthority accepts host[:port] where host is a registered name, an
// IPv4 literal or a bracketed IPv6 literal: no userinfo ("@"), no
// percent-encoding or IPv6 zone ("%"), no non-ASCII (IDNs arrive as
// punycode).
func validAuthority(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	if strings.IndexByte(a, '[') > 0 || strings.Count(a, "[") != strings.Count(a, "]") {
		return false
	}
	host := a
	if h, _, err := net.SplitHostPort(a); err == nil {
		host = h
	} else if strings.HasPrefix(a, "[") {
		host = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
	}
	return host != ""
}

// validHost checks a Host header value; an empty one is allowed (RFC 9112
// §3.2 for targets without an authority).
func validHost(h string) bool { return h == "" || validAuthority(h) }

// parseFields parses header field lines up to the blank line.
func parseFields(s string) (http.Header, error) {
	n := strings.Count(s, "\n") + 1
	vals := make([]string, n)
	// Room for the fields a proxy adds (Via, Sec-GPC), so adding them
	// does not grow the map.
	h := make(http.Header, n+2)
	i := 0
	for {
		var line string
		line, s = cutLine(s)
		if line == "" {
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("obsolete line folding") // RFC 9112 §5.2
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, badRequest("malformed header line")
		}
		name := line[:colon]
		canonical, ok := wire.CheckName(name)
		if !ok {
			// Includes whitespace before the colon (RFC 9112 §5.1).
			return nil, badRequest("invalid header name")
		}
		if !canonical {
			name = http.CanonicalHeaderKey(name)
		}
		value := wire.TrimOWS(line[colon+1:])
		if !wire.ValidValue(value) {
			return nil, badRequest("control character in header " + name)
		}
		if old, ok := h[name]; ok {
			h[name] = append(old, value)
		} else {
			vals[i] = value
			h[name] = vals[i : i+1 : i+1]
			i++
		}
	}
}

// setFraming determines the body length (RFC 9112 §6.1, §6.3). Anything
// a front end and a back end might read differently is refused.
func setFraming(r *http.Request) error {
	h := r.Header
	te, hasTE := h["Transfer-Encoding"]
	cls, hasCL := h["Content-Length"]
	if hasTE {
		if hasCL {
			return badRequest("both Transfer-Encoding and Content-Length")
		}
		if r.ProtoMinor == 0 {
			return badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if len(te) != 1 || !strings.EqualFold(wire.TrimOWS(te[0]), "chunked") {
			last := te[len(te)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if strings.EqualFold(wire.TrimOWS(last), "chunked") {
				return &requestError{http.StatusNotImplemented, "transfer coding not supported"}
			}
			return badRequest("chunked must be the final transfer coding")
		}
		delete(h, "Transfer-Encoding")
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
		// Trailers are filled in at the end of the body; the map exists
		// now so that shallow copies of the request share it.
		r.Trailer = make(http.Header)
		for _, v := range h["Trailer"] {
			for _, name := range strings.Split(v, ",") {
				if name = wire.TrimOWS(name); wire.IsToken(name) {
					r.Trailer[http.CanonicalHeaderKey(name)] = nil
				}
			}
		}
		return nil
	}
	if hasCL {
		n, ok := wire.ContentLength(cls)
		if !ok {
			return badRequest("invalid or conflicting Content-Length")
		}
		r.ContentLength = n
		return nil
	}
	return nil
}

// cutLine is wire.CutLine.
func cutLine(s string) (line, rest string) { return wire.CutLine(s) }
