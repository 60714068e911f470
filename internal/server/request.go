package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

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
// request line are skipped (RFC 9112 §2.2). Every line must end in CRLF:
// RFC 9112 §2.2 lets a recipient accept a bare LF, but an intermediary
// that splits lines differently from the hop before it is how requests
// are smuggled, so sluice does not.
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
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return "", badRequest("line not ended by CRLF")
		}
		if len(line) == 2 {
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
// strict where leniency lets requests be smuggled: a line not ended by
// CRLF, whitespace before a colon, obs-fold, control characters,
// conflicting or malformed framing, and a Host missing, repeated or
// invalid are all 400.
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
	line, rest, ok := cutCRLF(s)
	if !ok {
		return badRequest("line not ended by CRLF")
	}
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
		// No fragment either: the request-target forms have none
		// (RFC 9112 §3.2), and net/url would read "#" as part of the path.
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '#' {
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
	if r.Method == http.MethodConnect && r.ContentLength != 0 {
		// RFC 9110 §9.3.6: CONNECT has no content. Bytes after its head
		// are tunnel data here, but a hop before might read them as a
		// body and then as the next request.
		return badRequest("CONNECT with a body")
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

// validAuthority accepts host[:port] (RFC 3986 §3.2.2, §3.2.3) where host
// is a DNS name, an IPv4 literal or a bracketed IPv6 literal and port a
// number from 1 to 65535. It refuses what two parsers could read as two
// different hosts, or what names no host at all: userinfo ("@"),
// percent-encoding and IPv6 zones ("%"), raw non-ASCII (IDNs arrive as
// punycode), empty or over-long labels, and "xn--" labels that are not
// valid punycode.
func validAuthority(a string) bool {
	host, port, hasPort := a, "", false
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return false
		}
		host = a[1:end]
		switch rest := a[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port, hasPort = rest[1:], true
		default:
			return false
		}
		// An IP-literal is an IPv6 address (IPvFuture is not supported)
		// without a zone (RFC 6874's zones name an interface of the
		// proxy's own machine).
		if strings.IndexByte(host, '%') >= 0 {
			return false
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return false
		}
	} else {
		if i := strings.IndexByte(a, ':'); i >= 0 {
			host, port, hasPort = a[:i], a[i+1:], true
		}
		if !validName(host) {
			return false
		}
	}
	return !hasPort || validPort(port)
}

// validName accepts a DNS name or IPv4 literal: dot-separated labels of
// 1 to 63 letters, digits, hyphens and underscores, at most 253 bytes
// with one optional trailing dot (RFC 1035 §2.3.4). An "xn--" label must
// be an A-label that decodes and encodes back to itself (RFC 5890 §2.3.2.1).
func validName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for h != "" {
		label, rest, _ := strings.Cut(h, ".")
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				return false
			}
		}
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") && !validALabel(label) {
			return false
		}
		h = rest
	}
	return true
}

// validALabel reports whether an "xn--" label is punycode for a valid
// internationalised label, written the way IDNA writes it.
func validALabel(label string) bool {
	u, err := idna.Lookup.ToUnicode(label)
	if err != nil || u == "" || u == label {
		return false
	}
	back, err := idna.Lookup.ToASCII(u)
	return err == nil && strings.EqualFold(back, label)
}

// validPort accepts a decimal port from 1 to 65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
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
		line, rest, ok := cutCRLF(s)
		if !ok {
			return nil, badRequest("line not ended by CRLF")
		}
		if s = rest; line == "" {
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
		if strings.IndexByte(name, '_') >= 0 && framingLookalike(name) {
			// Servers that map "_" to "-" (CGI and its heirs) would
			// frame the request by a field sluice does not.
			return nil, badRequest("header " + name + " imitates a framing header")
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

// framingLookalike reports whether name, with "_" read as "-", is
// Content-Length or Transfer-Encoding.
func framingLookalike(name string) bool {
	for _, f := range [...]string{"Content-Length", "Transfer-Encoding"} {
		if len(name) != len(f) {
			continue
		}
		same := true
		for i := 0; i < len(f) && same; i++ {
			c := name[i] | 0x20
			if c == '_'|0x20 {
				c = '-'
			}
			same = c == f[i]|0x20
		}
		if same {
			return true
		}
	}
	return false
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
		if err := checkCodings(te); err != nil {
			return err
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
		n, ok := contentLength(cls)
		if !ok {
			return badRequest("invalid or conflicting Content-Length")
		}
		r.ContentLength = n
		return nil
	}
	return nil
}

// checkCodings checks the transfer codings of a request, listed over one
// or more Transfer-Encoding lines. chunked must be the last coding and
// appear once (RFC 9112 §6.1); otherwise the body length cannot be known
// and the answer is 400 (RFC 9112 §6.3). Each coding must be a bare token:
// an empty list element, a parameter or a quoted string is refused too,
// where RFC 9110 §5.6.1 would have a recipient skip empty elements, since
// no client needs them and a hop that reads them differently could be
// fooled. Codings other than chunked are well formed but not implemented:
// 501 (RFC 9112 §6.1).
func checkCodings(te []string) error {
	n, chunkedAt := 0, -1
	for _, v := range te {
		for {
			e, rest, more := strings.Cut(v, ",")
			e = wire.TrimOWS(e)
			switch {
			case !wire.IsToken(e):
				return badRequest("malformed Transfer-Encoding")
			case strings.EqualFold(e, "chunked"):
				if chunkedAt >= 0 {
					return badRequest("chunked applied twice")
				}
				chunkedAt = n
			}
			n++
			if !more {
				break
			}
			v = rest
		}
	}
	if chunkedAt != n-1 {
		return badRequest("chunked must be the final transfer coding")
	}
	if n > 1 {
		return &requestError{http.StatusNotImplemented, "transfer coding not supported"}
	}
	return nil
}

// contentLength parses the values of Content-Length fields: each 1*DIGIT
// (RFC 9110 §8.6), so no sign, space or empty element. A list of
// identical values, over one or more lines, counts as one, as RFC 9110
// §8.6 allows; differing values are a framing attack.
func contentLength(vals []string) (int64, bool) {
	n := int64(-1)
	for _, v := range vals {
		for {
			e, rest, more := strings.Cut(v, ",")
			m, ok := wire.ParseDecimal(wire.TrimOWS(e))
			if !ok || n >= 0 && m != n {
				return 0, false
			}
			n = m
			if !more {
				break
			}
			v = rest
		}
	}
	return n, true
}

// checkChunks checks the chunked framing (RFC 9112 §7.1) of buf, the
// start of a request body that arrived together with its head, as far as
// buf goes. It lets the server refuse a malformed body before the head is
// forwarded anywhere; what arrives later is checked as it streams.
func checkChunks(buf []byte) error {
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		size, ok := parseChunkLine(buf[:i+1])
		if !ok {
			return badRequest("malformed chunk size line")
		}
		buf = buf[i+1:]
		if size == 0 {
			return checkTrailer(buf)
		}
		if size > int64(len(buf))-2 { // not size+2: it could overflow
			return nil
		}
		if buf[size] != '\r' || buf[size+1] != '\n' {
			return badRequest("chunk data not followed by CRLF")
		}
		buf = buf[size+2:]
	}
}

// checkTrailer checks the complete lines of a trailer section at the
// start of buf: field lines as in a head, up to the blank line.
func checkTrailer(buf []byte) error {
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		if i == 0 || buf[i-1] != '\r' {
			return badRequest("trailer line not ended by CRLF")
		}
		line := buf[:i-1]
		if len(line) == 0 {
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !wire.IsToken(string(line[:colon])) {
			return badRequest("malformed trailer line")
		}
		if !wire.ValidValue(string(line[colon+1:])) {
			return badRequest("control character in trailer")
		}
		buf = buf[i+1:]
	}
}

// parseChunkLine parses a chunk-size line ending in CRLF (RFC 9112 §7.1):
//
//	chunk-size [ chunk-ext ] CRLF
//	chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//	ext-val    = token / quoted-string
//
// It refuses what lenient readers have been fooled by: a sign or "0x",
// whitespace other than before a ";", an extension without a name, a
// bare LF, and a size that does not fit an int64.
func parseChunkLine(line []byte) (size int64, ok bool) {
	n := len(line)
	if n < 3 || line[n-1] != '\n' || line[n-2] != '\r' {
		return 0, false
	}
	s := line[:n-2]
	i := 0
	for ; i < len(s); i++ {
		d := unhex(s[i])
		if d < 0 {
			break
		}
		if size > (1<<63-1)>>4 {
			return 0, false
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	s = s[i:]
	for len(s) > 0 {
		s = skipBWS(s)
		if len(s) == 0 || s[0] != ';' {
			return 0, false
		}
		s = skipBWS(s[1:])
		name := tokenPrefix(s)
		if name == 0 {
			return 0, false
		}
		s = s[name:]
		if t := skipBWS(s); len(t) > 0 && t[0] == '=' {
			s = skipBWS(t[1:])
			if len(s) > 0 && s[0] == '"' {
				q := quotedPrefix(s)
				if q == 0 {
					return 0, false
				}
				s = s[q:]
			} else {
				v := tokenPrefix(s)
				if v == 0 {
					return 0, false
				}
				s = s[v:]
			}
		}
	}
	return size, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func skipBWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// tokenPrefix returns the length of the token at the start of s.
func tokenPrefix(s []byte) int {
	i := 0
	for i < len(s) && wire.IsTokenChar(s[i]) {
		i++
	}
	return i
}

// quotedPrefix returns the length of the quoted-string (RFC 9110 §5.6.4)
// at the start of s, or 0 if there is none.
func quotedPrefix(s []byte) int {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i++; i >= len(s) || s[i] < 0x20 && s[i] != '\t' || s[i] == 0x7f {
				return 0
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			return 0
		}
	}
	return 0
}

// cutCRLF returns the first line of s without its CRLF, and the rest; ok
// is false when the line ends in a bare LF. A last line without a line
// end is returned whole.
func cutCRLF(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, "", true
	}
	if i == 0 || s[i-1] != '\r' {
		return "", "", false
	}
	return s[:i-1], s[i+1:], true
}

// cutLine is wire.CutLine.
func cutLine(s string) (line, rest string) { return wire.CutLine(s) }
