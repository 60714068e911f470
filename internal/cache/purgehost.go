package cache

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

	"sluice/internal/cache/store"
)

// PurgeHost removes every stored response of host, whatever its URL, with
// the Vary markers and variants stored under those URLs, and reports how
// many store entries it removed (a URL whose response varies counts its
// marker and each variant).
//
// host is a name or an IP address, with or without a port:
//
//   - without a port it matches every scheme and port: "example.com"
//     purges http://example.com/…, https://example.com/… and
//     http://example.com:8080/…;
//   - with a port it matches that port only, a URL without one being on
//     its scheme's default port: "example.com:443" purges
//     https://example.com/… and http://example.com:443/…, not
//     http://example.com/….
//
// Names match case-insensitively and with or without a trailing dot; an
// internationalised name may be given in Unicode or as its A-label
// (xn--…), as URLs carry it. An IPv6 address may be given with or without
// brackets ("[::1]:8080", "::1") and matches however a URL writes it. Only
// the host itself matches: "example.com" leaves www.example.com alone.
//
// It walks the store's keys (store.Lister) and deletes each match as it
// comes, so it holds no lock for long and no more than a batch of keys in
// memory, and requests are served meanwhile; a response of host stored
// while it runs may survive it. A Delete that fails (one tier of a tiered
// store is sick) does not stop it: it goes on with the other keys and
// returns the first such error with what it removed, which does not count
// the entries whose Delete failed (in a tiered store, Delete removes what
// it can from the other tiers even then). When ctx is done it stops and returns
// what it removed so far with ctx's error. A store that cannot list its
// keys gives an error wrapping errors.ErrUnsupported.
//
// It is PurgeStoreHost over the cache's store, counted in Stats().Purges
// when it succeeds.
func (c *Cache) PurgeHost(ctx context.Context, host string) (removed int, err error) {
	removed, err = PurgeStoreHost(ctx, c.store, host)
	if err == nil {
		c.stats.purges.Add(1)
	}
	return removed, err
}

// PurgeStoreHost is PurgeHost over any store s, which must implement
// store.Lister: an instance told of a host purge by a peer runs it over
// its own tiers, whose entries the peer cannot reach. s is a store of
// entries keyed as a Cache keys them (Key, and its Vary markers and
// variants); other keys are left alone.
//
// When Deletes failed and the walk over the keys also ended early (ctx
// done, the store failing to list), the error joins the first Delete's
// error and the walk's.
func PurgeStoreHost(ctx context.Context, s store.Store, host string) (removed int, err error) {
	p, err := parseHostPattern(host)
	if err != nil {
		return 0, err
	}
	l, ok := s.(store.Lister)
	if !ok {
		return 0, fmt.Errorf("cache: purge host: %T cannot list its keys: %w", s, errors.ErrUnsupported)
	}
	var delErr error
	err = l.Keys(ctx, func(key string) bool {
		if !p.matches(key) {
			return true
		}
		if err := s.Delete(ctx, key); err != nil {
			// Keep going: one sick tier must not leave the rest of the
			// host unpurged. Keys stops by itself once ctx is done.
			if delErr == nil {
				delErr = fmt.Errorf("delete %q: %w", key, err)
			}
			return true
		}
		removed++
		return true
	})
	switch {
	case delErr != nil && err != nil:
		err = errors.Join(delErr, err)
	case delErr != nil:
		err = delErr
	}
	if err != nil {
		return removed, fmt.Errorf("cache: purge host %s: %w", host, err)
	}
	return removed, nil
}

// hostPattern is what PurgeHost matches the hosts of keys against.
type hostPattern struct {
	name string     // lower case, without a trailing dot; IPv6 without brackets
	ip   netip.Addr // name as an IPv6 address, if it is one
	port int        // 0 for any port
}

// parseHostPattern reads PurgeHost's host argument.
func parseHostPattern(s string) (hostPattern, error) {
	bad := func(why string) (hostPattern, error) {
		return hostPattern{}, fmt.Errorf("cache: purge host %q: %s", s, why)
	}
	var p hostPattern
	name, port, hasPort := strings.TrimSpace(s), "", false
	bracketed := strings.HasPrefix(name, "[")
	switch {
	case bracketed:
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return bad("no ] after an IPv6 address")
		}
		rest := name[end+1:]
		name = name[1:end]
		if rest != "" {
			if rest[0] != ':' {
				return bad("not host[:port]")
			}
			port, hasPort = rest[1:], true
		}
	case strings.Count(name, ":") > 1: // a bare IPv6 address
	default:
		name, port, hasPort = strings.Cut(name, ":")
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("port is not a number from 1 to 65535")
		}
		p.port = n
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" {
		return bad("no host")
	}
	if bracketed || strings.Contains(name, ":") {
		ip, err := netip.ParseAddr(name)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return bad("not an IPv6 address")
		}
		p.name, p.ip = ip.String(), ip
		return p, nil
	}
	if strings.Contains(name, "*") {
		return bad("wildcards are not supported; give the host itself")
	}
	if strings.ContainsAny(name, "/?#@%[] \t\r\n\\") {
		return bad("not host[:port]")
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(name)
			if err != nil {
				return bad("not a valid internationalised name")
			}
			name = a
			break
		}
	}
	p.name = name
	return p, nil
}

// matches reports whether key, built by Key (or a variant key, which
// starts with one), is of a URL on p's host and port.
func (p hostPattern) matches(key string) bool {
	scheme, rest, ok := strings.Cut(key, "://")
	if !ok {
		return false
	}
	// The authority ends where the path starts; Key always writes one.
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return false
		}
		host, port = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
	}
	if p.ip.IsValid() {
		ip, err := netip.ParseAddr(host)
		if err != nil || ip != p.ip {
			return false
		}
	} else if !strings.EqualFold(strings.TrimSuffix(host, "."), p.name) {
		return false
	}
	if p.port == 0 {
		return true
	}
	if port == "" {
		switch scheme {
		case "http":
			return p.port == 80
		case "https":
			return p.port == 443
		}
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n == p.port
}
