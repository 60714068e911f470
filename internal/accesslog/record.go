// Package accesslog keeps the account of each proxied request and writes it,
// one line per request, to an access log.
//
// Every proxy stage annotates a [Record]; when the request is over the proxy
// hands the Record to [Logger.Log], which queues it and returns at once. A
// single goroutine owned by the Logger formats queued records and writes them
// in batches, so a slow or stuck disk delays log lines but never a request:
// when the queue is full, records are dropped and counted ([Logger.Dropped]).
//
// Three line formats are supported: Squid's native access.log format
// ([Squid], the default), the Apache/nginx combined format ([Combined]) and
// one JSON object per line ([JSON]). Every format escapes client-controlled
// bytes so that one record is always exactly one line.
//
// A log file ([File]) can be reopened in place, which is all that an external
// rotator such as logrotate needs: it renames the file, then signals the proxy,
// which calls [Logger.Reopen].
//
// The package deliberately does not rotate files by size or age, compress
// old logs, ship records to a remote collector, or sample: those belong to
// tools outside the proxy that read the file (or standard output).
package accesslog

import "time"

// Record is one request's account. The proxy fills it in as the request
// passes through its stages and hands it to [Logger.Log] by value; the
// Logger never modifies it.
type Record struct {
	Start    time.Time     // when the request line was received
	Duration time.Duration // until the last byte was sent to the client (or the tunnel closed)
	Client   string        // client "ip:port" as in http.Request.RemoteAddr
	User     string        // authenticated proxy user, "" when none
	Method   string
	URL      string // absolute URL, or "host:port" for CONNECT
	Proto    string // "HTTP/1.1"
	Status   int    // status sent to the client (0 if none was sent)
	BytesOut int64  // bytes sent to the client (body bytes)
	BytesIn  int64  // request body bytes received from the client

	// Result is the Squid-style result code: "TCP_MISS", "TCP_TUNNEL",
	// "TCP_DENIED", "TCP_HIT", "NONE" …; "" means "NONE".
	Result string
	// Hierarchy is the Squid hierarchy code: "HIER_DIRECT", "HIER_NONE";
	// "" means "HIER_NONE".
	Hierarchy string
	// Upstream is the origin address dialed ("93.184.216.34"), "" when none.
	Upstream string

	ContentType string // of the response, "" when unknown
	Referer     string
	UserAgent   string
	Error       string // short reason for a failure or denial, "" when none (logged in JSON only)
	// Rule names the filter rule that blocked the request, or would have
	// in report-only mode, as "list:line: text"; "" when none (JSON only).
	Rule string
}

// result returns r.Result with "" read as "NONE".
func (r *Record) result() string {
	if r.Result == "" {
		return "NONE"
	}
	return r.Result
}

// hierarchy returns r.Hierarchy with "" read as "HIER_NONE".
func (r *Record) hierarchy() string {
	if r.Hierarchy == "" {
		return "HIER_NONE"
	}
	return r.Hierarchy
}

// durationMS returns the duration in whole milliseconds, never negative.
func (r *Record) durationMS() int64 {
	return max(r.Duration.Milliseconds(), 0)
}
