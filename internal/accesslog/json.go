package accesslog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends r as one JSON object and a newline. The keys and their
// order are documented on [JSON].
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Milli(b, r.Start)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendInt(b, r.durationMS(), 10)
	b = appendJSONField(b, "client", r.Client)
	b = appendJSONField(b, "user", r.User)
	b = appendJSONField(b, "method", r.Method)
	b = appendJSONField(b, "url", r.URL)
	b = appendJSONField(b, "proto", r.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = appendJSONField(b, "result", r.result())
	b = appendJSONField(b, "hierarchy", r.hierarchy())
	b = appendJSONField(b, "upstream", r.Upstream)
	b = appendJSONField(b, "content_type", r.ContentType)
	b = appendJSONField(b, "referer", r.Referer)
	b = appendJSONField(b, "user_agent", r.UserAgent)
	b = appendJSONField(b, "error", r.Error)
	b = appendJSONField(b, "rule", r.Rule)
	return append(b, "}\n"...)
}

// appendJSONField appends `,"key":"value"`, or nothing when value is empty.
// key must be plain ASCII that needs no escaping.
func appendJSONField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string (RFC 8259 §7). Invalid UTF-8
// is replaced by U+FFFD; U+2028 and U+2029 are escaped as encoding/json
// does, so the line is also safe to embed in JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRFC3339Milli appends t in UTC as RFC 3339 with milliseconds:
// 2026-11-25T23:40:00.123Z.
func appendRFC3339Milli(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendPadded(b, int64(year), 4, '0')
	b = append(b, '-')
	b = appendPadded(b, int64(month), 2, '0')
	b = append(b, '-')
	b = appendPadded(b, int64(day), 2, '0')
	b = append(b, 'T')
	b = appendPadded(b, int64(hour), 2, '0')
	b = append(b, ':')
	b = appendPadded(b, int64(minute), 2, '0')
	b = append(b, ':')
	b = appendPadded(b, int64(sec), 2, '0')
	b = append(b, '.')
	b = appendPadded(b, int64(t.Nanosecond()/1e6), 3, '0')
	return append(b, 'Z')
}
