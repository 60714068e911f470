package tiered_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/disk"
	"sluice/internal/cache/store/mem"
	"sluice/internal/cache/store/storetest"
	"sluice/internal/cache/store/tiered"
)

// TestConformance runs the store suite against memory over disk, the
// stack the binary uses, with the budget split between the tiers.
func TestConformance(t *testing.T) {
	const maxObj = 2 << 20
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T, dir string, capacity int64) store.Store {
			m := mem.New(mem.Options{Capacity: capacity / 2, MaxObjectSize: maxObj})
			d, err := disk.Open(disk.Options{Dir: dir, Capacity: capacity - capacity/2, MaxObjectSize: maxObj,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return tiered.New(m, d)
		},
		Persistent:    true,
		MaxObjectSize: maxObj,
	})
}

// TestSickTierPassedOver: a tier whose Get fails (here a disk store that
// was closed, standing for a shared tier that is down) is passed over like
// a miss, so the entry still comes from the tier behind it.
func TestSickTierPassedOver(t *testing.T) {
	ctx := t.Context()
	open := func() *disk.Store {
		d, err := disk.Open(disk.Options{Dir: t.TempDir(), Capacity: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		<-d.Ready()
		return d
	}
	sick, healthy := open(), open()
	sick.Close()
	if _, err := sick.Get(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a closed disk store's Get: %v, want a failure other than not found", err)
	}
	w, err := healthy.Create(ctx, "k", &store.Meta{Status: 200, Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "body")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	s := tiered.New(mem.New(mem.Options{Capacity: 1 << 20}), sick, healthy)
	e, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get past the sick tier: %v", err)
	}
	e.Close()
	if _, err := tiered.New(sick).Get(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("only a sick tier: %v, want its error", err)
	}
	if _, err := tiered.New(sick, healthy).Get(ctx, "absent"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("absent everywhere with a sick tier: %v, want the sick tier's error", err)
	}
}

// TestFollowLargestLimit checks that a reader of a fill follows the tier
// that accepts the object, not a slower tier that refuses it part-way.
func TestFollowLargestLimit(t *testing.T) {
	big := mem.New(mem.Options{Capacity: 64 << 20, MaxObjectSize: 4 << 20})
	small := mem.New(mem.Options{Capacity: 64 << 20, MaxObjectSize: 1 << 20}) // a shared tier below, with a lower limit
	s := tiered.New(big, small)
	defer s.Close()
	w, err := s.Create(context.Background(), "k", &store.Meta{Status: 200, Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	r := w.NewReader()
	body := make([]byte, 2<<20)
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || len(got) != len(body) {
		t.Errorf("follower: %d bytes, %v; want %d bytes", len(got), err, len(body))
	}
}

// put commits an entry with the given ETag and body in s.
func put(t *testing.T, s store.Store, key, etag, body string) {
	t.Helper()
	w, err := s.Create(context.Background(), key, &store.Meta{Status: 200, Header: http.Header{"Etag": {etag}}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// stored returns the ETag, the X-Updated field and the body of the entry
// under key in s, or "absent".
func stored(t *testing.T, s store.Store, key string) string {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b, err := io.ReadAll(io.NewSectionReader(e, 0, e.Size()))
	if err != nil {
		t.Fatal(err)
	}
	m := e.Meta()
	return m.Header.Get("Etag") + " " + m.Header.Get("X-Updated") + " " + string(b)
}

// funcTier is a tier with an UpdateFunc of its own, which counts its
// calls and those of Update.
type funcTier struct {
	store.Store
	updateFuncs, updates *int
}

func (f funcTier) UpdateFunc(ctx context.Context, key string, fn func(*store.Meta) (*store.Meta, bool)) error {
	*f.updateFuncs++
	return store.UpdateFunc(ctx, f.Store, key, fn)
}

func (f funcTier) Update(ctx context.Context, key string, m *store.Meta) error {
	*f.updates++
	return f.Store.Update(ctx, key, m)
}

// TestUpdateFunc checks that UpdateFunc lets fn decide for each tier
// with that tier's own stored metadata: a fast tier may keep an older
// copy than a shared tier below it, which another instance replaced,
// and only the copy fn accepts is updated.
func TestUpdateFunc(t *testing.T) {
	ifETag := func(want string, seen *[]string) func(*store.Meta) (*store.Meta, bool) {
		return func(m *store.Meta) (*store.Meta, bool) {
			*seen = append(*seen, m.Header.Get("Etag"))
			if m.Header.Get("Etag") != want {
				return nil, false
			}
			m.Header.Set("X-Updated", "yes")
			return m, true
		}
	}
	cases := []struct {
		name       string
		fast, slow string // ETag stored in each tier ("" for none); the body is the ETag's letter
		accept     string // the ETag fn accepts
		wantErr    error  // nil, store.ErrRefused or store.ErrNotFound
		wantFast   string
		wantSlow   string
		wantSeen   []string
	}{
		{name: "slow tier replaced", fast: `"a"`, slow: `"b"`, accept: `"a"`,
			wantFast: `"a" yes a`, wantSlow: `"b"  b`, wantSeen: []string{`"a"`, `"b"`}},
		{name: "fast tier replaced", fast: `"b"`, slow: `"a"`, accept: `"a"`,
			wantFast: `"b"  b`, wantSlow: `"a" yes a`, wantSeen: []string{`"b"`, `"a"`}},
		{name: "both the one meant", fast: `"a"`, slow: `"a"`, accept: `"a"`,
			wantFast: `"a" yes a`, wantSlow: `"a" yes a`, wantSeen: []string{`"a"`, `"a"`}},
		{name: "both replaced", fast: `"b"`, slow: `"b"`, accept: `"a"`, wantErr: store.ErrRefused,
			wantFast: `"b"  b`, wantSlow: `"b"  b`, wantSeen: []string{`"b"`, `"b"`}},
		{name: "only in the slow tier", slow: `"a"`, accept: `"a"`,
			wantFast: "absent", wantSlow: `"a" yes a`, wantSeen: []string{`"a"`}},
		{name: "replaced, only in the slow tier", slow: `"b"`, accept: `"a"`, wantErr: store.ErrRefused,
			wantFast: "absent", wantSlow: `"b"  b`, wantSeen: []string{`"b"`}},
		{name: "absent", accept: `"a"`, wantErr: store.ErrNotFound,
			wantFast: "absent", wantSlow: "absent"},
	}
	for _, tc := range cases {
		for _, own := range []bool{false, true} {
			name := tc.name
			if own {
				name += "/tiers with UpdateFunc"
			}
			t.Run(name, func(t *testing.T) {
				fast := mem.New(mem.Options{Capacity: 1 << 20})
				slow := mem.New(mem.Options{Capacity: 1 << 20})
				defer fast.Close()
				defer slow.Close()
				for _, st := range []struct {
					s    store.Store
					etag string
				}{{fast, tc.fast}, {slow, tc.slow}} {
					if st.etag != "" {
						put(t, st.s, "k", st.etag, st.etag[1:2])
					}
				}
				var updateFuncs, updates int
				var s *tiered.Store
				if own {
					s = tiered.New(funcTier{fast, &updateFuncs, &updates}, funcTier{slow, &updateFuncs, &updates})
				} else {
					s = tiered.New(fast, slow)
				}
				var seen []string
				err := s.UpdateFunc(t.Context(), "k", ifETag(tc.accept, &seen))
				switch {
				case tc.wantErr == nil && err != nil:
					t.Errorf("UpdateFunc: got %v, want nil", err)
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Errorf("UpdateFunc: got %v, want %v", err, tc.wantErr)
				case tc.wantErr == store.ErrNotFound && errors.Is(err, store.ErrRefused):
					t.Errorf("UpdateFunc: got %v, want plain %v", err, store.ErrNotFound)
				}
				if got := stored(t, fast, "k"); got != tc.wantFast {
					t.Errorf("fast tier: got %q, want %q", got, tc.wantFast)
				}
				if got := stored(t, slow, "k"); got != tc.wantSlow {
					t.Errorf("slow tier: got %q, want %q", got, tc.wantSlow)
				}
				if !slices.Equal(seen, tc.wantSeen) {
					t.Errorf("fn saw ETags %q, want %q", seen, tc.wantSeen)
				}
				if own && (updateFuncs != 2 || updates != 0) {
					t.Errorf("tiers' UpdateFunc called %d times and Update %d times, want 2 and 0", updateFuncs, updates)
				}
			})
		}
	}
}

// TestUpdateFuncSickTier checks that a tier that fails does not keep the
// others from being updated, and that its error is reported.
func TestUpdateFuncSickTier(t *testing.T) {
	ctx := t.Context()
	sick, err := disk.Open(disk.Options{Dir: t.TempDir(), Capacity: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sick.Close()
	healthy := mem.New(mem.Options{Capacity: 1 << 20})
	defer healthy.Close()
	put(t, healthy, "k", `"a"`, "a")
	s := tiered.New(sick, healthy)
	err = s.UpdateFunc(ctx, "k", func(m *store.Meta) (*store.Meta, bool) {
		m.Header.Set("X-Updated", "yes")
		return m, true
	})
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateFunc with a sick tier: got %v, want the sick tier's error", err)
	}
	if got, want := stored(t, healthy, "k"), `"a" yes a`; got != want {
		t.Errorf("healthy tier: got %q, want %q", got, want)
	}
}

// TestUpdateFuncFallback checks store.UpdateFunc over a store without
// an UpdateFunc of its own: a memory store seen only through the Store
// interface (its own UpdateFunc hidden).
func TestUpdateFuncFallback(t *testing.T) {
	ctx := t.Context()
	m := mem.New(mem.Options{Capacity: 1 << 20})
	defer m.Close()
	s := struct{ store.Store }{m}
	if _, ok := store.Store(s).(store.FuncUpdater); ok {
		t.Fatal("the wrapper still offers an UpdateFunc: the fallback is not under test")
	}
	put(t, s, "k", `"a"`, "a")
	refuse := func(*store.Meta) (*store.Meta, bool) { return nil, false }
	if err := store.UpdateFunc(ctx, s, "k", refuse); !errors.Is(err, store.ErrRefused) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("fn refusing: got %v, want store.ErrRefused (a store.ErrNotFound)", err)
	}
	if err := store.UpdateFunc(ctx, s, "missing", refuse); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRefused) {
		t.Errorf("no entry: got %v, want store.ErrNotFound", err)
	}
	err := store.UpdateFunc(ctx, s, "k", func(m *store.Meta) (*store.Meta, bool) {
		m.Header.Set("X-Updated", "yes")
		return m, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stored(t, s, "k"), `"a" yes a`; got != want {
		t.Errorf("after UpdateFunc: got %q, want %q", got, want)
	}
}

// flakyTier is a memory store whose writers fail (and abort) once their
// body passes failAt bytes, like a shared tier that runs out of buffer
// or loses Redis part-way through a fill. Its limit says it takes large
// objects, so a reader follows it first.
type flakyTier struct {
	*mem.Store
	failAt int
}

func (f flakyTier) MaxObjectSize() int64 { return 1 << 30 }

func (f flakyTier) Create(ctx context.Context, key string, m *store.Meta) (store.Writer, error) {
	w, err := f.Store.Create(ctx, key, m)
	return &flakyWriter{Writer: w, failAt: f.failAt}, err
}

type flakyWriter struct {
	store.Writer
	failAt, n int
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.failAt {
		w.Writer.Abort()
		return 0, errors.New("flaky: gave up")
	}
	w.n += len(p)
	return w.Writer.Write(p)
}

// TestFollowerFailsOver: a reader following a fill goes on with another
// tier when the one it follows drops the object part-way, and gets the
// whole body; it fails only when every tier has dropped it.
func TestFollowerFailsOver(t *testing.T) {
	body := make([]byte, 300<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		name    string
		tiers   func() []store.Store
		wantErr bool
	}{
		{"followed tier fails, local tier goes on", func() []store.Store {
			return []store.Store{mem.New(mem.Options{Capacity: 8 << 20, MaxObjectSize: 1 << 20}),
				flakyTier{mem.New(mem.Options{Capacity: 8 << 20}), 100 << 10}}
		}, false},
		{"two tiers fail at different points", func() []store.Store {
			return []store.Store{flakyTier{mem.New(mem.Options{Capacity: 8 << 20}), 200 << 10},
				mem.New(mem.Options{Capacity: 8 << 20, MaxObjectSize: 1 << 20}),
				flakyTier{mem.New(mem.Options{Capacity: 8 << 20}), 64 << 10}}
		}, false},
		{"every tier fails", func() []store.Store {
			return []store.Store{flakyTier{mem.New(mem.Options{Capacity: 8 << 20}), 100 << 10},
				mem.New(mem.Options{Capacity: 8 << 20, MaxObjectSize: 200 << 10})}
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tiered.New(tt.tiers()...)
			defer s.Close()
			w, err := s.Create(t.Context(), "k", &store.Meta{Status: 200, Header: http.Header{}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			r := w.NewReader()
			defer r.Close()
			got := make(chan []byte)
			errc := make(chan error, 1)
			go func() {
				b, err := io.ReadAll(r)
				errc <- err
				got <- b
			}()
			var werr error
			for off := 0; off < len(body) && werr == nil; off += 16 << 10 {
				_, werr = w.Write(body[off:min(off+16<<10, len(body))])
			}
			if werr == nil {
				werr = w.Commit()
			}
			err = <-errc
			b := <-got
			if tt.wantErr {
				if err == nil {
					t.Errorf("reader got %d bytes and no error, though every tier dropped the object", len(b))
				}
				return
			}
			if werr != nil {
				t.Fatalf("write: %v", werr)
			}
			if err != nil || !slices.Equal(b, body) {
				t.Errorf("reader: %d bytes (equal: %v), %v; want the whole %d-byte body", len(b), slices.Equal(b, body), err, len(body))
			}
		})
	}
}

// TestFollowerClose: Close wakes a Read waiting for the writer.
func TestFollowerClose(t *testing.T) {
	s := tiered.New(mem.New(mem.Options{Capacity: 8 << 20}))
	defer s.Close()
	w, err := s.Create(t.Context(), "k", &store.Meta{Status: 200, Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	r := w.NewReader()
	errc := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		errc <- err
	}()
	r.Close()
	if err := <-errc; err == nil {
		t.Error("a Read woken by Close returned no error")
	}
}
