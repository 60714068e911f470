package semantics

import "net/http"

// Storable reports whether a shared cache may store the response with
// status and respHeader to a request with method and reqHeader (RFC 9111
// §3, §3.5, §5.2). When it may not, reason is a short lowercase phrase for
// logs: "method", "status", "must-understand", "no-store",
// "request no-store", "private", "authorization", "vary *",
// "no freshness" or "no freshness or validator".
//
// A response is stored when all of these hold:
//
//   - the method is GET or HEAD;
//   - the status is final (RFC 9111 §3), and neither 206 nor 304: this
//     cache neither combines partial content (§3.4) nor keeps a 304;
//   - with must-understand, the status is Understood (§5.2.2.3);
//   - the response has no no-store, unless must-understand is present and
//     the status is Understood, in which case no-store is ignored
//     (§5.2.2.3);
//   - the request has no no-store (§5.2.1.5);
//   - the response has no unqualified private; with private="fields" it
//     is storable and the caller removes those fields (§5.2.2.7);
//   - a request with Authorization is answered with public, s-maxage or
//     must-revalidate (§3.5);
//   - the response has no Vary: *, which no request can ever match (§4.1);
//   - it has public, max-age or s-maxage (valid or not), or Expires
//     (valid or not), or a status cacheable by default (§3).
//
// Beyond RFC 9111, a response with no explicit expiration time (no
// max-age, s-maxage or Expires) is stored only if it has a valid validator
// (ETag or Last-Modified): without Last-Modified no heuristic lifetime can
// be computed, and without a validator it could never be revalidated, so
// it would be stored stale and stay useless.
func Storable(method string, reqHeader http.Header, status int, respHeader http.Header) (ok bool, reason string) {
	if method != http.MethodGet && method != http.MethodHead {
		return false, "method"
	}
	if status < 200 || status > 599 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return false, "status"
	}
	d := ParseResponseDirectives(respHeader)
	if d.MustUnderstand && !Understood(status) {
		return false, "must-understand"
	}
	if d.NoStore && !d.MustUnderstand {
		return false, "no-store"
	}
	if ParseRequestDirectives(reqHeader).NoStore {
		return false, "request no-store"
	}
	if d.Private {
		return false, "private"
	}
	if _, ok := reqHeader["Authorization"]; ok && !d.Public && !d.SMaxAge.Present && !d.MustRevalidate {
		return false, "authorization"
	}
	if _, star := VaryFields(respHeader); star {
		return false, "vary *"
	}
	explicit := d.MaxAge.Present || d.SMaxAge.Present || len(respHeader["Expires"]) > 0
	if !explicit && !d.Public && !CacheableByDefault(status) {
		return false, "no freshness"
	}
	if !explicit && !hasValidator(respHeader) {
		return false, "no freshness or validator"
	}
	return true, ""
}
