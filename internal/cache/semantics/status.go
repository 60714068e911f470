package semantics

// CacheableByDefault reports whether responses with status may be stored
// and reused with a heuristic freshness lifetime when they carry no
// explicit one: the status codes RFC 9110 §15.1 defines as heuristically
// cacheable (200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501).
func CacheableByDefault(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// Understood reports whether this cache understands status, for the
// must-understand directive (RFC 9111 §5.2.2.3): the status codes RFC 9110
// §15 defines. 306 and 418, which RFC 9110 only reserves as unused, are not
// understood; nor are codes defined elsewhere (429, 511…).
func Understood(status int) bool {
	switch status {
	case 100, 101,
		200, 201, 202, 203, 204, 205, 206,
		300, 301, 302, 303, 304, 305, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
		500, 501, 502, 503, 504, 505:
		return true
	}
	return false
}

// Invalidates reports whether a response with status to a request with
// method invalidates the stored responses for the target URI (RFC 9111
// §4.4): an unsafe or unknown method — anything but GET, HEAD, OPTIONS and
// TRACE (RFC 9110 §9.2.1; method names are case-sensitive) — answered with
// a non-error status (2xx or 3xx). Invalidating the URIs in Location and
// Content-Location, when they share the target's origin, is the caller's.
func Invalidates(method string, status int) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return false
	}
	return 200 <= status && status < 400
}
