package cache

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
)

// freshen applies a successful revalidation of read, the stored response
// the cache read under key and asked the origin about, to what key holds
// now (RFC 9111 §4.3.4, §4.3.5): fields are the 304's or the HEAD
// response's, sent at reqTime and received at respTime.
//
// The stored response is updated only if it is still read's response
// (sameResponse): in a store shared by several instances another one may
// have replaced it since, with a new body, and the 304's fields (and
// read's, which the update keeps) must not describe that body. The
// update starts from the stored header, not read's, so a refresh of the
// same response by another instance meanwhile is not undone. When the
// stored response is another one, nothing is stored; the caller still
// answers from read.
func (c *Cache) freshen(ctx context.Context, key string, read *store.Meta, fields http.Header, reqTime, respTime time.Time) {
	fresh := storedHeader(fields, semantics.ResponseDirectives{})
	err := store.UpdateFunc(ctx, c.store, key, func(stored *store.Meta) (*store.Meta, bool) {
		if !sameResponse(read, stored) {
			return nil, false
		}
		return &store.Meta{
			Status:       stored.Status,
			Header:       semantics.UpdateStoredHeader(stored.Header, fresh),
			RequestTime:  reqTime,
			ResponseTime: respTime,
		}, true
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrRefused):
		c.log.Debug("cache: the stored response was replaced while it was revalidated; not updated", "key", key)
	case errors.Is(err, store.ErrNotFound): // evicted, purged or replaced meanwhile
	default:
		c.log.Debug("cache: updating a revalidated entry failed", "key", key, "err", err)
	}
}

// sameResponse reports whether stored, what a key holds now, is the
// response read that the cache revalidated, so that the revalidation may
// update it. RFC 9111 §4.3.4 selects the stored response to update by its
// validators, and so does this, for the one response under a key:
//
//   - when read has a strong ETag, stored must have the same;
//   - otherwise, when read has a Last-Modified, stored must have the same
//     date, and the same ETag (a weak one) or none like read;
//   - otherwise, with nothing to tell two responses apart, stored must
//     be the very one read: the same request and response times.
//
// Their statuses must be equal too: a Vary marker never takes a
// response's fields.
func sameResponse(read, stored *store.Meta) bool {
	if stored.Status != read.Status {
		return false
	}
	if t, ok := strongETag(read.Header); ok {
		st, ok := strongETag(stored.Header)
		return ok && st == t
	}
	if lm := read.Header["Last-Modified"]; len(lm) > 0 {
		slm := stored.Header["Last-Modified"]
		if len(slm) == 0 || !slices.Equal(stored.Header["Etag"], read.Header["Etag"]) {
			return false
		}
		a, ok1 := semantics.ParseDate(lm[0])
		b, ok2 := semantics.ParseDate(slm[0])
		if ok1 && ok2 {
			return a.Equal(b)
		}
		return lm[0] == slm[0]
	}
	return stored.RequestTime.Equal(read.RequestTime) && stored.ResponseTime.Equal(read.ResponseTime)
}

// strongETag returns h's ETag if it is a strong entity-tag (RFC 9110
// §8.8.3): an opaque-tag in quotes without the W/ prefix.
func strongETag(h http.Header) (string, bool) {
	v := h["Etag"]
	if len(v) == 0 {
		return "", false
	}
	t := strings.Trim(v[0], " \t")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' || strings.Contains(t[1:len(t)-1], `"`) {
		return "", false
	}
	return t, true
}
