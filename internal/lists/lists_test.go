package lists

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestFileRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hosts")
	os.WriteFile(p, []byte("0.0.0.0 ads.example\n"), 0o644)
	s := New(Options{Dir: t.TempDir()})
	b, err := s.Read(p)
	if err != nil || string(b) != "0.0.0.0 ads.example\n" {
		t.Fatalf("Read(file) = %q, %v", b, err)
	}
	if _, err := s.Read(filepath.Join(dir, "missing")); err == nil {
		t.Error("Read(missing file): no error")
	}
}

// A URL list is read from its last good copy; a failed or rejected fetch
// never replaces it, and a new store over the same directory (a restart)
// reads it without fetching.
func TestFetchKeepsLastGood(t *testing.T) {
	var body atomic.Value
	var status atomic.Int32
	body.Store("||ads.example^\n")
	status.Store(200)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(body.Load().(string)))
	}))
	defer origin.Close()
	u := origin.URL + "/easylist.txt"
	dir := t.TempDir()
	check := func(source string, b []byte) error {
		if strings.Contains(string(b), "<html") {
			return errors.New("an HTML page, not a list")
		}
		return nil
	}
	s := New(Options{Dir: dir, Client: origin.Client(), Check: check})
	ctx := context.Background()

	if _, err := s.Read(u); !errors.Is(err, ErrNoCopy) {
		t.Fatalf("Read before any fetch: got %v, want ErrNoCopy", err)
	}
	if changed, err := s.Fetch(ctx, u); err != nil || !changed {
		t.Fatalf("first Fetch = %v, %v; want changed", changed, err)
	}
	if changed, err := s.Fetch(ctx, u); err != nil || changed {
		t.Fatalf("same content again: Fetch = %v, %v; want unchanged", changed, err)
	}
	status.Store(500)
	body.Store("oops")
	if _, err := s.Fetch(ctx, u); err == nil {
		t.Error("Fetch of a 500: no error")
	}
	status.Store(200)
	body.Store("<html>captive portal</html>")
	if _, err := s.Fetch(ctx, u); err == nil {
		t.Error("Fetch of content Check rejects: no error")
	}
	body.Store("")
	if _, err := s.Fetch(ctx, u); err == nil {
		t.Error("Fetch of an empty body: no error")
	}
	restarted := New(Options{Dir: dir})
	b, err := restarted.Read(u)
	if err != nil || string(b) != "||ads.example^\n" {
		t.Fatalf("after failures and a restart, Read = %q, %v; want the last good copy", b, err)
	}
	body.Store("||ads.example^\n||more.example^\n")
	if changed, err := s.Fetch(ctx, u); err != nil || !changed {
		t.Fatalf("new content: Fetch = %v, %v; want changed", changed, err)
	}
	if b, _ := s.Read(u); !strings.Contains(string(b), "more.example") {
		t.Errorf("after an update, Read = %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("list dir holds %d files, want 1 (no temporary files left)", len(ents))
	}
}

func TestFetchTooLarge(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("a.example\n", 1<<16))
		for n := 0; n <= MaxSize; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer origin.Close()
	s := New(Options{Dir: t.TempDir(), Client: origin.Client()})
	if _, err := s.Fetch(context.Background(), origin.URL); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Fetch of an oversized list: got %v, want a size error", err)
	}
}
