// Package outcome classifies a finished request's [accesslog.Record] into
// the few kinds that metrics and the status page count: cache hit or miss,
// tunnel, block, denial, authentication failure, error.
//
// Both internal/metrics (Prometheus) and internal/stats (the status page)
// count through this package, so the hit ratio on the page and the one in
// Prometheus agree by construction. Every function here runs once per
// request on the proxy's hot path: none allocates.
//
// The package deliberately reads only what the Record says; it does not
// know the proxy's configuration. Where the Record carries no field for a
// distinction (a wrong password versus none at all), it matches the short
// reason the proxy writes into Record.Error; those strings are the
// constants below and must follow internal/proxy if it changes them.
package outcome

import (
	"strings"

	"sluice/internal/accesslog"
)

// Result is the cache result of a request, a bounded summary of the
// Squid-style code in Record.Result.
type Result uint8

// The results, in label order. [NumResults] counts them.
const (
	None        Result = iota // no answer from an origin or the cache: NONE, local pages, failures before forwarding
	Hit                       // served from the cache without contacting the origin
	Revalidated               // served from the cache after asking the origin (304, or stale because the origin failed)
	Miss                      // the body came from the origin
	Tunnel                    // a CONNECT tunnel
	Denied                    // refused by the proxy: block lists, access rules, authentication, client limits
	Other                     // any code not listed in ResultOf

	NumResults = int(Other) + 1
)

var resultNames = [NumResults]string{"none", "hit", "revalidated", "miss", "tunnel", "denied", "other"}

// String returns the result's lower-case name, as used in metric labels.
func (r Result) String() string {
	if int(r) >= NumResults {
		return "other"
	}
	return resultNames[r]
}

// FromCache reports whether the body the client got came from the cache:
// [Hit] or [Revalidated]. Hit ratios count these as hits.
func (r Result) FromCache() bool { return r == Hit || r == Revalidated }

// Lookup reports whether the request was a cache lookup, the denominator
// of a hit ratio: [Hit], [Revalidated] or [Miss].
func (r Result) Lookup() bool { return r == Hit || r == Revalidated || r == Miss }

// ResultOf maps a Squid-style result code to its [Result]. Squid's
// "_ABORTED" and "_TIMEDOUT" suffixes (the transfer ended early) are
// ignored: an aborted miss is still a miss. The mapping:
//
//	none:        "", NONE, NONE_NONE
//	hit:         TCP_HIT, TCP_MEM_HIT, TCP_IMS_HIT, TCP_INM_HIT, TCP_STALE_HIT,
//	             TCP_NEGATIVE_HIT, TCP_OFFLINE_HIT, TCP_REFRESH_IGNORED, UDP_HIT
//	revalidated: TCP_REFRESH_UNMODIFIED, TCP_REFRESH_FAIL_OLD, TCP_REFRESH_HIT, TCP_REF_FAIL_HIT
//	miss:        TCP_MISS, TCP_CLIENT_REFRESH_MISS, TCP_CF_MISS, TCP_REFRESH_MODIFIED,
//	             TCP_REFRESH_MISS, TCP_REFRESH_FAIL_ERR, TCP_SWAPFAIL_MISS, UDP_MISS
//	tunnel:      TCP_TUNNEL
//	denied:      TCP_DENIED, TCP_DENIED_REPLY, UDP_DENIED
//	other:       anything else
func ResultOf(code string) Result {
	code, _ = strings.CutSuffix(code, "_ABORTED")
	code, _ = strings.CutSuffix(code, "_TIMEDOUT")
	switch code {
	case "", "NONE", "NONE_NONE":
		return None
	case "TCP_HIT", "TCP_MEM_HIT", "TCP_IMS_HIT", "TCP_INM_HIT", "TCP_STALE_HIT",
		"TCP_NEGATIVE_HIT", "TCP_OFFLINE_HIT", "TCP_REFRESH_IGNORED", "UDP_HIT":
		return Hit
	case "TCP_REFRESH_UNMODIFIED", "TCP_REFRESH_FAIL_OLD", "TCP_REFRESH_HIT", "TCP_REF_FAIL_HIT":
		return Revalidated
	case "TCP_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_CF_MISS", "TCP_REFRESH_MODIFIED",
		"TCP_REFRESH_MISS", "TCP_REFRESH_FAIL_ERR", "TCP_SWAPFAIL_MISS", "UDP_MISS":
		return Miss
	case "TCP_TUNNEL":
		return Tunnel
	case "TCP_DENIED", "TCP_DENIED_REPLY", "UDP_DENIED":
		return Denied
	}
	return Other
}

// Auth is why a request failed proxy authentication.
type Auth uint8

// The authentication failures, in label order. [NumAuth] counts them,
// NoAuthFailure included.
const (
	NoAuthFailure    Auth = iota
	NoCredentials         // 407: the request carried no Proxy-Authorization (a browser's first try, usually)
	WrongCredentials      // 407: the credentials were not accepted
	ProbeResistance       // answered as a plain web server would, without a challenge; missing and wrong credentials look alike here

	NumAuth = int(ProbeResistance) + 1
)

var authNames = [NumAuth]string{"", "no_credentials", "wrong_credentials", "probe_resistance"}

// String returns the failure's name as used in metric labels; "" for
// NoAuthFailure.
func (a Auth) String() string {
	if int(a) >= NumAuth {
		return ""
	}
	return authNames[a]
}

// The reasons internal/proxy writes into Record.Error for the answers this
// package cannot tell apart by status or result code alone.
const (
	// ErrorProbeResistance marks a request refused under probe
	// resistance: its status is a plain web server's 404 or 400.
	ErrorProbeResistance = "Not authenticated (probe resistance)"
	// ErrorWrongCredentials is the title of the 407 answer to credentials
	// that were sent but not accepted.
	ErrorWrongCredentials = "Wrong user name or password"
	// ErrorIdleTimeout ends a tunnel (or an upgraded connection) that
	// carried nothing for its idle time: the usual end of a tunnel.
	ErrorIdleTimeout = "tunnel idle timeout"
)

// Outcome is what a finished request amounts to.
type Outcome struct {
	Result Result
	// Blocked is set for a request denied by a rule of a list the operator
	// configured (a filter list or the access rules): Result is [Denied]
	// and Record.Rule names the rule. A rule recorded in report-only mode,
	// without a denial, does not count.
	Blocked bool
	// Auth says why the request failed proxy authentication, if it did.
	Auth Auth
	// Error is set for a request that failed for a reason other than a
	// refusal by the proxy; see [IsError].
	Error bool
}

// Of classifies rec. A PURGE request is neither a hit nor a miss, whatever
// its result code says, since it looks nothing up: its Result is [Other].
func Of(rec *accesslog.Record) Outcome {
	o := Outcome{Result: ResultOf(rec.Result)}
	if o.Result.Lookup() && rec.Method == "PURGE" {
		o.Result = Other
	}
	if o.Result == Denied {
		o.Blocked = rec.Rule != ""
		switch {
		case rec.Error == ErrorProbeResistance:
			o.Auth = ProbeResistance
		case rec.Status == 407 && rec.Error == ErrorWrongCredentials:
			o.Auth = WrongCredentials
		case rec.Status == 407:
			o.Auth = NoCredentials
		}
		return o
	}
	o.Error = isError(rec)
	return o
}

// IsError reports whether rec counts as an error: a request the proxy did
// not refuse (its result is not denied: blocks, denials and authentication
// answers are policy, not failures) that
//
//   - was answered with a 5xx status (the origin or the proxy failed), or
//   - carries an Error and was answered (status not 0) — a 4xx the proxy
//     itself produced, such as a malformed or oversized request, or a
//     response that broke off mid-body —
//
// except a tunnel or upgraded connection closed by its idle timeout
// ([ErrorIdleTimeout]), which is how tunnels normally end, and a PURGE
// answered 404 because nothing was stored. A record with status 0 means
// the client went away before any answer: not an error.
func IsError(rec *accesslog.Record) bool {
	return ResultOf(rec.Result) != Denied && isError(rec)
}

func isError(rec *accesslog.Record) bool {
	if rec.Status >= 500 {
		return true
	}
	if rec.Method == "PURGE" && rec.Status == 404 {
		return false
	}
	return rec.Error != "" && rec.Status != 0 && rec.Error != ErrorIdleTimeout
}

// List returns the name of the list a rule belongs to, for a rule as
// Record.Rule writes it:
//
//   - a filter rule "list:line: text" gives its list, which may itself be
//     a path or a URL: "https://easylist.to/easylist.txt:12: ||ads^"
//     gives "https://easylist.to/easylist.txt";
//   - an access rule ("access.rules[2] (line 14)", "access rule 3",
//     "access.default") gives "access", the text before the first '.',
//     ' ', '[' or '(' when there is no line number;
//   - otherwise the text before the first ':'.
//
// The result is a substring of rule.
func List(rule string) string {
	// The list name ends at the first ":<digits>:".
	for i := 0; i < len(rule); i++ {
		if rule[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(rule) && rule[j] >= '0' && rule[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(rule) && rule[j] == ':' {
			return rule[:i]
		}
	}
	if i := strings.IndexAny(rule, ".:[( "); i >= 0 {
		return rule[:i]
	}
	return rule
}
