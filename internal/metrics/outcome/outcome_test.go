package outcome

import (
	"testing"

	"sluice/internal/accesslog"
)

func TestResultOf(t *testing.T) {
	tests := []struct {
		code string
		want Result
	}{
		{"", None},
		{"NONE", None},
		{"NONE_NONE", None},
		{"TCP_HIT", Hit},
		{"TCP_MEM_HIT", Hit},
		{"TCP_IMS_HIT", Hit},
		{"TCP_STALE_HIT", Hit},
		{"TCP_HIT_ABORTED", Hit},
		{"TCP_REFRESH_UNMODIFIED", Revalidated},
		{"TCP_REFRESH_FAIL_OLD", Revalidated},
		{"TCP_MISS", Miss},
		{"TCP_MISS_ABORTED", Miss},
		{"TCP_MISS_TIMEDOUT", Miss},
		{"TCP_CLIENT_REFRESH_MISS", Miss},
		{"TCP_CF_MISS", Miss},
		{"TCP_REFRESH_MODIFIED", Miss},
		{"TCP_REFRESH_FAIL_ERR", Miss},
		{"TCP_TUNNEL", Tunnel},
		{"TCP_TUNNEL_ABORTED", Tunnel},
		{"TCP_DENIED", Denied},
		{"TCP_DENIED_REPLY", Denied},
		{"TCP_REDIRECT", Other},
		{"tcp_hit", Other}, // codes are upper case
		{"NONE_ABORTED", None},
	}
	for _, tt := range tests {
		if got := ResultOf(tt.code); got != tt.want {
			t.Errorf("ResultOf(%q): got %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestResultString(t *testing.T) {
	seen := map[string]bool{}
	for r := range NumResults {
		s := Result(r).String()
		if s == "" || seen[s] {
			t.Errorf("Result(%d).String() = %q: empty or repeated", r, s)
		}
		seen[s] = true
	}
	if got := Result(200).String(); got != "other" {
		t.Errorf("out-of-range Result: got %q, want %q", got, "other")
	}
}

func TestList(t *testing.T) {
	tests := []struct{ rule, want string }{
		{"easylist.txt:1234: ||ads^", "easylist.txt"},
		{"/etc/sluice/hosts:7: 0.0.0.0 ads.example", "/etc/sluice/hosts"},
		{"https://easylist.to/easylist/easylist.txt:12: ||ads^", "https://easylist.to/easylist/easylist.txt"},
		{"http://lists.example:8080/block.txt:3: x", "http://lists.example:8080/block.txt"},
		{"http://[::1]:8080/l:3: a:1: b", "http://[::1]:8080/l"},
		{"access.rules[2] (line 14)", "access"},
		{"access.rules[2]", "access"},
		{"access rule 3", "access"},
		{"access.default", "access"},
		{"mylist:abc", "mylist"},
		{"plain", "plain"},
		{"", ""},
		{":5: x", ""},
	}
	for _, tt := range tests {
		if got := List(tt.rule); got != tt.want {
			t.Errorf("List(%q): got %q, want %q", tt.rule, got, tt.want)
		}
	}
}

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		rec  accesslog.Record
		want Outcome
	}{
		{"miss", accesslog.Record{Method: "GET", Status: 200, Result: "TCP_MISS"}, Outcome{Result: Miss}},
		{"hit", accesslog.Record{Method: "GET", Status: 200, Result: "TCP_MEM_HIT"}, Outcome{Result: Hit}},
		{"purge is no lookup", accesslog.Record{Method: "PURGE", Status: 200, Result: "TCP_HIT"}, Outcome{Result: Other}},
		{"purge not stored is no error", accesslog.Record{Method: "PURGE", Status: 404, Result: "TCP_MISS", Error: "Not in cache"}, Outcome{Result: Other}},
		{"purge failed", accesslog.Record{Method: "PURGE", Status: 500, Result: "NONE", Error: "Purge failed"}, Outcome{Result: None, Error: true}},
		{"blocked by a list", accesslog.Record{Status: 403, Result: "TCP_DENIED", Error: "Blocked", Rule: "easylist.txt:1: ||ads^"}, Outcome{Result: Denied, Blocked: true}},
		{"denied by access rules", accesslog.Record{Status: 403, Result: "TCP_DENIED", Error: "Access denied", Rule: "access.default"}, Outcome{Result: Denied, Blocked: true}},
		{"report-only is no block", accesslog.Record{Status: 200, Result: "TCP_MISS", Rule: "easylist.txt:1: ||ads^"}, Outcome{Result: Miss}},
		{"no credentials", accesslog.Record{Status: 407, Result: "TCP_DENIED", Error: "Proxy authentication required"}, Outcome{Result: Denied, Auth: NoCredentials}},
		{"wrong credentials", accesslog.Record{Status: 407, Result: "TCP_DENIED", Error: ErrorWrongCredentials}, Outcome{Result: Denied, Auth: WrongCredentials}},
		{"probe resistance", accesslog.Record{Status: 404, Result: "TCP_DENIED", Error: ErrorProbeResistance}, Outcome{Result: Denied, Auth: ProbeResistance}},
		{"407 from a parent proxy", accesslog.Record{Status: 407, Result: "TCP_MISS"}, Outcome{Result: Miss}},
		{"connection limit", accesslog.Record{Status: 503, Result: "TCP_DENIED", Error: "too many connections"}, Outcome{Result: Denied}},
		{"bad gateway", accesslog.Record{Status: 502, Result: "NONE", Error: "Cannot connect"}, Outcome{Result: None, Error: true}},
		{"origin 500", accesslog.Record{Status: 500, Result: "TCP_MISS"}, Outcome{Result: Miss, Error: true}},
		{"origin 404", accesslog.Record{Status: 404, Result: "TCP_MISS"}, Outcome{Result: Miss}},
		{"request too large", accesslog.Record{Status: 413, Result: "NONE", Error: "Request body too large"}, Outcome{Result: None, Error: true}},
		{"mid-body failure", accesslog.Record{Status: 200, Result: "TCP_MISS_ABORTED", Error: "origin failed mid-body"}, Outcome{Result: Miss, Error: true}},
		{"client went away", accesslog.Record{Status: 0, Result: "TCP_MISS_ABORTED", Error: "client went away"}, Outcome{Result: Miss}},
		{"tunnel idle", accesslog.Record{Method: "CONNECT", Status: 200, Result: "TCP_TUNNEL", Error: ErrorIdleTimeout}, Outcome{Result: Tunnel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(&tt.rec); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got := IsError(&tt.rec); got != tt.want.Error {
				t.Errorf("IsError: got %v, want %v", got, tt.want.Error)
			}
		})
	}
}

func TestOfAllocs(t *testing.T) {
	rec := accesslog.Record{Method: "GET", Status: 403, Result: "TCP_DENIED_ABORTED", Rule: "easylist.txt:1: ||ads^"}
	if n := testing.AllocsPerRun(100, func() { Of(&rec); List(rec.Rule) }); n != 0 {
		t.Errorf("Of and List allocate %v times per call, want 0", n)
	}
}

func FuzzList(f *testing.F) {
	for _, s := range []string{"easylist.txt:1234: ||ads^", "access.rules[2] (line 14)", "http://[::1]:80/l:3: x", ":", "a:1", "a:1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		l := List(rule)
		if len(l) > len(rule) || rule[:len(l)] != l {
			t.Fatalf("List(%q) = %q, not a prefix", rule, l)
		}
	})
}
