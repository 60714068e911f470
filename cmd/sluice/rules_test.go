package main

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice/internal/config"
	"sluice/internal/filter"
	"sluice/internal/lists"
	"sluice/internal/privacy"
)

// TestBuildRules: the filter, privacy and rewrite sections of a
// configuration become the rules the proxy applies, and a rule that cannot
// be built is an error naming it.
func TestBuildRules(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("0.0.0.0 ads.example\n"), 0o644)
	data := `
filter:
  block: [` + hosts + `]
  report_only: true
privacy:
  level: strict
  sites: {".bank.example": "off"}
rewrite:
  headers:
    - {phase: response, action: remove, name: Server}
`
	cfg, err := config.Parse([]byte(data), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ls := lists.New(lists.Options{Dir: filepath.Join(dir, "lists")})
	rs, files, err := buildRules(cfg, ls, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0] != hosts {
		t.Errorf("watched files %v, want [%s]", files, hosts)
	}
	if !rs.ReportOnly || rs.Filter == nil || rs.Privacy == nil || rs.Rewrite == nil {
		t.Fatalf("rules %+v, want report-only with a filter, privacy and rewrite", rs)
	}
	if d := rs.Filter.Decide(&filter.Request{URL: "http://ads.example/", Host: "ads.example"}); !d.Blocked {
		t.Error("the hosts list does not match ads.example")
	}
	if got := rs.Privacy.Level("www.bank.example"); got != privacy.Off {
		t.Errorf("privacy level for www.bank.example: got %v, want off (sites override)", got)
	}
	if got := rs.Privacy.Level("news.example"); got != privacy.Strict {
		t.Errorf("privacy level for news.example: got %v, want strict", got)
	}
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Server": {"x"}}, Body: http.NoBody}
	req, _ := http.NewRequest(http.MethodGet, "http://news.example/", nil)
	rs.Rewrite.Response(req, resp)
	if _, ok := resp.Header["Server"]; ok {
		t.Error("the response header rule did not remove Server")
	}

	// Defaults: privacy standard, nothing else.
	def := config.Default()
	rs, _, err = buildRules(&def, ls, slog.New(slog.DiscardHandler), nil)
	if err != nil || rs.Filter != nil || rs.Rewrite != nil || rs.Privacy == nil || rs.Privacy.Level("a.example") != privacy.Standard {
		t.Errorf("defaults: got %+v, %v; want standard privacy only", rs, err)
	}

	// A regex that does not compile names its rule.
	bad := *cfg
	bad.Rewrite.Headers = []config.HeaderRule{{Phase: "response", Action: "replace", Name: "Server", Regex: "("}}
	if _, _, err := buildRules(&bad, ls, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "headers[0]") {
		t.Errorf("bad regex: got %v, want an error naming headers[0]", err)
	}
}
