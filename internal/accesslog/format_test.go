package accesslog

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var start = time.Date(2026, 11, 25, 23, 40, 0, 123_456_789, time.UTC)

// records are the inputs of the golden tables, by name.
var records = map[string]Record{
	"miss": {
		Start:       start,
		Duration:    245*time.Millisecond + 900*time.Microsecond,
		Client:      "127.0.0.1:54321",
		Method:      "GET",
		URL:         "http://example.com/x",
		Proto:       "HTTP/1.1",
		Status:      200,
		BytesOut:    1024,
		Result:      "TCP_MISS",
		Hierarchy:   "HIER_DIRECT",
		Upstream:    "93.184.216.34",
		ContentType: "text/html",
		Referer:     "http://example.com/",
		UserAgent:   "curl/8.5.0",
	},
	"empty": {},
	"tunnel-ipv6": {
		Start:     start.Add(-123 * time.Millisecond), // .000 ms
		Duration:  1234567 * time.Millisecond,         // wider than the 6 columns
		Client:    "[2001:db8::1]:50000",
		User:      "alice",
		Method:    "CONNECT",
		URL:       "example.com:443",
		Proto:     "HTTP/1.1",
		Status:    200,
		BytesOut:  5000,
		BytesIn:   700,
		Result:    "TCP_TUNNEL",
		Hierarchy: "HIER_DIRECT",
		Upstream:  "2606:2800:220:1::",
	},
	"hostile": {
		Start:       start,
		Duration:    -time.Second, // clock stepped back: logged as 0
		Client:      "10.0.0.7:1",
		User:        "bob smith",
		Method:      "GET",
		URL:         "http://e.com/a b\nc\x00é",
		Proto:       "HTTP/1.0",
		Status:      403,
		Result:      "TCP_DENIED",
		ContentType: "text/html; charset=utf-8",
		Referer:     `back\slash`,
		UserAgent:   "evil\" 200 0\n127.0.0.1 - - \xff\"",
		Error:       "denied by rule \"x\"\n\x01\xc3",
		Rule:        "ads.txt:3: ||e.com^",
	},
}

func TestFormatGolden(t *testing.T) {
	tests := []struct {
		record string
		format Format
		want   string
	}{
		{"miss", Squid, "1795650000.123    245 127.0.0.1 TCP_MISS/200 1024 GET http://example.com/x - HIER_DIRECT/93.184.216.34 text/html\n"},
		{"empty", Squid, "-62135596800.000      0 - NONE/000 0 - - - HIER_NONE/- -\n"},
		{"tunnel-ipv6", Squid, "1795650000.000 1234567 2001:db8::1 TCP_TUNNEL/200 5000 CONNECT example.com:443 alice HIER_DIRECT/2606:2800:220:1:: -\n"},
		{"hostile", Squid, "1795650000.123      0 10.0.0.7 TCP_DENIED/403 0 GET http://e.com/a%20b%0Ac%00%C3%A9 bob%20smith HIER_NONE/- text/html;%20charset=utf-8\n"},

		{"miss", Combined, `127.0.0.1 - - [25/Nov/2026:23:40:00 +0000] "GET http://example.com/x HTTP/1.1" 200 1024 "http://example.com/" "curl/8.5.0"` + "\n"},
		{"empty", Combined, `- - - [01/Jan/0001:00:00:00 +0000] "-" 000 0 "-" "-"` + "\n"},
		{"tunnel-ipv6", Combined, `2001:db8::1 - alice [25/Nov/2026:23:40:00 +0000] "CONNECT example.com:443 HTTP/1.1" 200 5000 "-" "-"` + "\n"},
		{"hostile", Combined, `10.0.0.7 - bob\x20smith [25/Nov/2026:23:40:00 +0000] "GET http://e.com/a b\x0Ac\x00\xC3\xA9 HTTP/1.0" 403 0 "back\\slash" "evil\" 200 0\x0A127.0.0.1 - - \xFF\""` + "\n"},

		{"miss", JSON, `{"time":"2026-11-25T23:40:00.123Z","duration_ms":245,"client":"127.0.0.1:54321","method":"GET","url":"http://example.com/x","proto":"HTTP/1.1","status":200,"bytes_out":1024,"bytes_in":0,"result":"TCP_MISS","hierarchy":"HIER_DIRECT","upstream":"93.184.216.34","content_type":"text/html","referer":"http://example.com/","user_agent":"curl/8.5.0"}` + "\n"},
		{"empty", JSON, `{"time":"0001-01-01T00:00:00.000Z","duration_ms":0,"status":0,"bytes_out":0,"bytes_in":0,"result":"NONE","hierarchy":"HIER_NONE"}` + "\n"},
		{"tunnel-ipv6", JSON, `{"time":"2026-11-25T23:40:00.000Z","duration_ms":1234567,"client":"[2001:db8::1]:50000","user":"alice","method":"CONNECT","url":"example.com:443","proto":"HTTP/1.1","status":200,"bytes_out":5000,"bytes_in":700,"result":"TCP_TUNNEL","hierarchy":"HIER_DIRECT","upstream":"2606:2800:220:1::"}` + "\n"},
		{"hostile", JSON, `{"time":"2026-11-25T23:40:00.123Z","duration_ms":0,"client":"10.0.0.7:1","user":"bob smith","method":"GET","url":"http://e.com/a b\nc\u0000é","proto":"HTTP/1.0","status":403,"bytes_out":0,"bytes_in":0,"result":"TCP_DENIED","hierarchy":"HIER_NONE","content_type":"text/html; charset=utf-8","referer":"back\\slash","user_agent":"evil\" 200 0\n127.0.0.1 - - \ufffd\"","error":"denied by rule \"x\"\n\u0001\ufffd","rule":"ads.txt:3: ||e.com^"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format.String()+"/"+tt.record, func(t *testing.T) {
			r := records[tt.record]
			got := string(tt.format.append(nil, &r))
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestJSONRoundTrip parses JSON lines back and checks every field,
// including strings that were invalid UTF-8 (each bad byte becomes U+FFFD).
func TestJSONRoundTrip(t *testing.T) {
	for name, r := range records {
		t.Run(name, func(t *testing.T) {
			line := appendJSON(nil, &r)
			if !utf8.Valid(line) { // encoding/json would accept raw invalid bytes
				t.Fatalf("line %q is not valid UTF-8", line)
			}
			var got struct {
				Time        time.Time `json:"time"`
				DurationMS  int64     `json:"duration_ms"`
				Client      string    `json:"client"`
				User        string    `json:"user"`
				Method      string    `json:"method"`
				URL         string    `json:"url"`
				Proto       string    `json:"proto"`
				Status      int       `json:"status"`
				BytesOut    int64     `json:"bytes_out"`
				BytesIn     int64     `json:"bytes_in"`
				Result      string    `json:"result"`
				Hierarchy   string    `json:"hierarchy"`
				Upstream    string    `json:"upstream"`
				ContentType string    `json:"content_type"`
				Referer     string    `json:"referer"`
				UserAgent   string    `json:"user_agent"`
				Error       string    `json:"error"`
				Rule        string    `json:"rule"`
			}
			dec := json.NewDecoder(strings.NewReader(string(line)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("line %q is not valid JSON: %v", line, err)
			}
			if want := r.Start.Truncate(time.Millisecond); !got.Time.Equal(want) {
				t.Errorf("time: got %v, want %v", got.Time, want)
			}
			checks := []struct {
				key       string
				got, want any
			}{
				{"duration_ms", got.DurationMS, r.durationMS()},
				{"client", got.Client, validUTF8(r.Client)},
				{"user", got.User, validUTF8(r.User)},
				{"method", got.Method, validUTF8(r.Method)},
				{"url", got.URL, validUTF8(r.URL)},
				{"proto", got.Proto, validUTF8(r.Proto)},
				{"status", got.Status, r.Status},
				{"bytes_out", got.BytesOut, r.BytesOut},
				{"bytes_in", got.BytesIn, r.BytesIn},
				{"result", got.Result, r.result()},
				{"hierarchy", got.Hierarchy, r.hierarchy()},
				{"upstream", got.Upstream, validUTF8(r.Upstream)},
				{"content_type", got.ContentType, validUTF8(r.ContentType)},
				{"referer", got.Referer, validUTF8(r.Referer)},
				{"rule", got.Rule, validUTF8(r.Rule)},
				{"user_agent", got.UserAgent, validUTF8(r.UserAgent)},
				{"error", got.Error, validUTF8(r.Error)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.key, c.got, c.want)
				}
			}
		})
	}
}

// validUTF8 replaces each invalid byte of s by U+FFFD, as a JSON decoder
// reports what appendJSONString wrote.
func validUTF8(s string) string { return string([]rune(s)) }

func TestClientIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1"},
		{"[::1]:8080", "::1"},
		{"[fe80::1%eth0]:8080", "fe80::1%eth0"},
		{"[::1]", "::1"},
		{"::1", "::1"},
		{"10.0.0.1", "10.0.0.1"},
		{"@", "@"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := clientIP(tt.in); got != tt.want {
			t.Errorf("clientIP(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"squid", Squid},
		{"Combined", Combined},
		{"JSON", JSON},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFormat(%q): got %v, %v, want %v", tt.in, got, err, tt.want)
		}
		if back, _ := ParseFormat(got.String()); back != got {
			t.Errorf("ParseFormat(%v.String()): got %v", got, back)
		}
	}
	for _, in := range []string{"", "common", "squid "} {
		_, err := ParseFormat(in)
		if err == nil {
			t.Fatalf("ParseFormat(%q): got no error", in)
		}
		for _, name := range []string{"squid", "combined", "json"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("ParseFormat(%q) error %q does not name %q", in, err, name)
			}
		}
	}
}

// combinedLine matches one whole combined-format line; quoted fields may
// hold only printable ASCII, with `"` and `\` escaped.
var combinedLine = regexp.MustCompile(`^[!-~]+ - [!-~]+ \[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d \+0000\] "(?:[ !#-\[\]-~]|\\["\\]|\\x[0-9A-F]{2})*" \d{3,} -?\d+ "(?:[ !#-\[\]-~]|\\["\\]|\\x[0-9A-F]{2})*" "(?:[ !#-\[\]-~]|\\["\\]|\\x[0-9A-F]{2})*"\n$`)

// FuzzFormat checks that whatever the client controls, each format writes
// exactly one line of the right shape, and JSON reads back intact.
func FuzzFormat(f *testing.F) {
	for _, r := range records {
		f.Add(r.User, r.Method, r.URL, r.ContentType, r.Referer, r.UserAgent)
	}
	f.Fuzz(func(t *testing.T, user, method, url, contentType, referer, userAgent string) {
		r := records["miss"]
		r.User, r.Method, r.URL, r.ContentType, r.Referer, r.UserAgent = user, method, url, contentType, referer, userAgent

		squid := string(appendSquid(nil, &r))
		if strings.Count(squid, "\n") != 1 || !strings.HasSuffix(squid, "\n") {
			t.Fatalf("squid: not one line: %q", squid)
		}
		if n := len(strings.Fields(squid)); n != 10 {
			t.Fatalf("squid: got %d fields, want 10: %q", n, squid)
		}

		combined := string(appendCombined(nil, &r))
		if !combinedLine.MatchString(combined) {
			t.Fatalf("combined: malformed line %q", combined)
		}

		line := appendJSON(nil, &r)
		if strings.Count(string(line), "\n") != 1 || !utf8.Valid(line) {
			t.Fatalf("json: not one line of UTF-8: %q", line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("json: %v in %q", err, line)
		}
		for key, want := range map[string]string{"user": user, "method": method, "url": url, "content_type": contentType, "referer": referer, "user_agent": userAgent} {
			v, ok := got[key]
			if want == "" {
				if ok {
					t.Errorf("json: %s: got %q, want it omitted", key, v)
				}
				continue
			}
			if v != validUTF8(want) {
				t.Errorf("json: %s: got %q, want %q", key, v, validUTF8(want))
			}
		}
	})
}

func BenchmarkFormatSquid(b *testing.B) { benchmarkFormat(b, Squid) }

func BenchmarkFormatCombined(b *testing.B) { benchmarkFormat(b, Combined) }

func BenchmarkFormatJSON(b *testing.B) { benchmarkFormat(b, JSON) }

func benchmarkFormat(b *testing.B, f Format) {
	r := records["miss"]
	buf := f.append(nil, &r)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = f.append(buf[:0], &r)
	}
}
