package accesslog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format selects the layout of an access log line. All formats write times
// in UTC.
type Format int

const (
	// Squid is Squid's native access.log format (its default "logformat
	// squid"):
	//
	//	%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
	//
	// for example
	//
	//	1732579200.123    245 127.0.0.1 TCP_MISS/200 1024 GET http://example.com/x - HIER_DIRECT/93.184.216.34 text/html
	//
	// Fields are separated by spaces, so bytes that would split a
	// field or the line (space, control bytes, DEL and non-ASCII bytes) are
	// percent-encoded; an empty field is written as "-". BytesOut counts body
	// bytes only, where Squid counts headers too.
	Squid Format = iota

	// Combined is the Apache/nginx combined format:
	//
	//	127.0.0.1 - user [25/Nov/2026:23:40:00 +0000] "GET http://example.com/x HTTP/1.1" 200 1024 "referer" "user-agent"
	//
	// Inside quoted fields `"` and `\` are backslash-escaped and control and
	// non-ASCII bytes are written as \xHH, as nginx does, so a hostile
	// User-Agent cannot end the field or forge a line.
	Combined

	// JSON writes one JSON object per line with the keys time (RFC 3339,
	// milliseconds, UTC), duration_ms, client ("ip:port"), user, method,
	// url, proto, status, bytes_out, bytes_in, result, hierarchy, upstream,
	// content_type, referer, user_agent and error, in that order. Empty
	// strings are omitted; numbers, result and hierarchy are always present.
	// Invalid UTF-8 is replaced by U+FFFD, so every line is valid JSON.
	JSON
)

// ParseFormat returns the Format named s: "squid", "combined" or "json",
// in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "squid":
		return Squid, nil
	case "combined":
		return Combined, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("unknown access log format %q (want squid, combined or json)", s)
}

// String returns the name ParseFormat accepts for f.
func (f Format) String() string {
	switch f {
	case Squid:
		return "squid"
	case Combined:
		return "combined"
	case JSON:
		return "json"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// append appends r to dst as one line in format f, newline included, and
// returns the extended buffer. An unknown Format is written as Squid.
func (f Format) append(dst []byte, r *Record) []byte {
	switch f {
	case Combined:
		return appendCombined(dst, r)
	case JSON:
		return appendJSON(dst, r)
	}
	return appendSquid(dst, r)
}

func appendSquid(b []byte, r *Record) []byte {
	b = strconv.AppendInt(b, r.Start.Unix(), 10)
	b = append(b, '.')
	b = appendPadded(b, int64(r.Start.Nanosecond()/1e6), 3, '0')
	b = append(b, ' ')
	b = appendPadded(b, r.durationMS(), 6, ' ')
	b = append(b, ' ')
	b = appendSquidField(b, clientIP(r.Client))
	b = append(b, ' ')
	b = appendSquidField(b, r.result())
	b = append(b, '/')
	b = appendPadded(b, int64(max(r.Status, 0)), 3, '0')
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, ' ')
	b = appendSquidField(b, r.Method)
	b = append(b, ' ')
	b = appendSquidField(b, r.URL)
	b = append(b, ' ')
	b = appendSquidField(b, r.User)
	b = append(b, ' ')
	b = appendSquidField(b, r.hierarchy())
	b = append(b, '/')
	b = appendSquidField(b, r.Upstream)
	b = append(b, ' ')
	b = appendSquidField(b, r.ContentType)
	return append(b, '\n')
}

func appendCombined(b []byte, r *Record) []byte {
	b = appendCombinedField(b, clientIP(r.Client), false)
	b = append(b, " - "...)
	b = appendCombinedField(b, r.User, false)
	b = append(b, ' ')
	b = appendCLFTime(b, r.Start)
	b = append(b, ` "`...)
	if r.Method == "" && r.URL == "" && r.Proto == "" {
		b = append(b, '-')
	} else {
		b = appendCombinedField(b, r.Method, true)
		b = append(b, ' ')
		b = appendCombinedField(b, r.URL, true)
		if r.Proto != "" {
			b = append(b, ' ')
			b = appendCombinedField(b, r.Proto, true)
		}
	}
	b = append(b, `" `...)
	b = appendPadded(b, int64(max(r.Status, 0)), 3, '0')
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, ` "`...)
	b = appendCombinedField(b, r.Referer, true)
	b = append(b, `" "`...)
	b = appendCombinedField(b, r.UserAgent, true)
	return append(b, "\"\n"...)
}

// clientIP returns the host part of an "ip:port" address without the
// brackets around an IPv6 literal. Anything that is not host:port is
// returned unchanged.
func clientIP(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if i := strings.IndexByte(addr, ']'); i > 0 {
			return addr[1:i]
		}
		return addr
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.IndexByte(addr[:i], ':') >= 0 {
		return addr // no port, or a bare IPv6 address
	}
	return addr[:i]
}

const hexDigits = "0123456789ABCDEF"

// appendSquidField appends s as one space-separated field: "-" when empty,
// with space, control, DEL and non-ASCII bytes percent-encoded. "%" itself is
// left alone so that already-encoded URLs read as they were requested.
func appendSquidField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&0xf])
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendCombinedField appends s escaped the way nginx escapes log variables:
// `"` and `\` get a backslash; control, DEL and non-ASCII bytes become \xHH.
// Outside quotes (quoted false) a space is escaped as \x20 too. An empty
// field is written as "-".
func appendCombinedField(b []byte, s string, quoted bool) []byte {
	if s == "" {
		return append(b, '-')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain := c > ' ' && c < 0x7f && c != '"' && c != '\\'
		if plain || (c == ' ' && quoted) {
			continue
		}
		b = append(b, s[start:i]...)
		if c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendCLFTime appends t in UTC as the Common Log Format does:
// [25/Nov/2026:23:40:00 +0000].
func appendCLFTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '[')
	b = appendPadded(b, int64(day), 2, '0')
	b = append(b, '/')
	b = append(b, month.String()[:3]...)
	b = append(b, '/')
	b = appendPadded(b, int64(year), 4, '0')
	b = append(b, ':')
	b = appendPadded(b, int64(hour), 2, '0')
	b = append(b, ':')
	b = appendPadded(b, int64(minute), 2, '0')
	b = append(b, ':')
	b = appendPadded(b, int64(sec), 2, '0')
	return append(b, " +0000]"...)
}

// appendPadded appends the decimal form of n, which must not be negative,
// left-padded with pad to at least width bytes.
func appendPadded(b []byte, n int64, width int, pad byte) []byte {
	digits := 1
	for v := n; v >= 10; v /= 10 {
		digits++
	}
	for ; width > digits; width-- {
		b = append(b, pad)
	}
	return strconv.AppendInt(b, n, 10)
}
