package redisstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// TestBudget checks that the bytes held by writers and queued values stay
// within MaxBuffered: the fill that would exceed it is aborted with
// ErrBusy, and the bytes of writers that end come back.
func TestBudget(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	const budget = 1 << 20
	big := bytes.Repeat([]byte("b"), 600_000)
	create := func(t *testing.T, s *Store, key string) store.Writer {
		t.Helper()
		w, err := s.Create(ctx, key, hashedMeta(big, key))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Abort)
		return w
	}
	write := func(t *testing.T, w store.Writer, p []byte) {
		t.Helper()
		if _, err := w.Write(p); err != nil {
			t.Fatalf("Write of %d bytes within the budget: %v", len(p), err)
		}
	}
	// refused checks that w, which would exceed the budget, is aborted
	// with ErrBusy.
	refused := func(t *testing.T, w store.Writer) {
		t.Helper()
		r := w.NewReader()
		if _, err := w.Write(big); !errors.Is(err, ErrBusy) || errors.Is(err, store.ErrTooLarge) {
			t.Fatalf("Write over the budget: got %v, want ErrBusy", err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, store.ErrAborted) {
			t.Errorf("follower of a writer over the budget: got %v, want store.ErrAborted", err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, store.ErrAborted) {
			t.Errorf("Write after ErrBusy: got %v, want store.ErrAborted", err)
		}
	}
	tests := []struct {
		name string
		opts Options
		run  func(t *testing.T, s *Store)
	}{
		{"writers", Options{}, func(t *testing.T, s *Store) {
			w1 := create(t, s, "w1")
			write(t, w1, big)
			refused(t, create(t, s, "w2"))
			if err := w1.Commit(); err != nil {
				t.Fatal(err)
			}
			w3 := create(t, s, "w3") // room again
			write(t, w3, big)
			if err := w3.Commit(); err != nil {
				t.Fatal(err)
			}
		}},
		{"aborted writers give back", Options{}, func(t *testing.T, s *Store) {
			w1 := create(t, s, "w1")
			write(t, w1, big)
			w1.Abort()
			w2 := create(t, s, "w2")
			write(t, w2, big)
			w2.Abort()
		}},
		{"growth falls back to exact", Options{}, func(t *testing.T, s *Store) {
			// Doubling 600 kB would exceed the budget; 600+400 kB does not.
			w := create(t, s, "w")
			write(t, w, big)
			write(t, w, big[:budget-len(big)-10_000])
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
		}},
		{"create", Options{}, func(t *testing.T, s *Store) {
			w := create(t, s, "w")
			write(t, w, big)
			room := budget - s.buffers.used.Load()
			write(t, w, big[:room-100]) // leaves less than a meta
			if _, err := s.Create(ctx, "more", hashedMeta(big, "more")); !errors.Is(err, ErrBusy) {
				t.Errorf("Create with the budget spent: got %v, want ErrBusy", err)
			}
			w.Abort()
		}},
		{"queued values", Options{AsyncCommit: true}, func(t *testing.T, s *Store) {
			g := newGate(t, s)
			g.hold("sluice:queued")
			w1 := create(t, s, "queued")
			write(t, w1, big)
			if err := w1.Commit(); err != nil {
				t.Fatal(err)
			}
			g.await(t, "sluice:queued")
			refused(t, create(t, s, "w2"))
			g.release("sluice:queued")
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			w3 := create(t, s, "w3")
			write(t, w3, big)
			if err := w3.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.MaxBuffered = budget
			o.Prefix = "sluice:"
			s := newStore(t, srv, o)
			tt.run(t, s)
			if n := s.buffers.used.Load(); n != 0 {
				t.Errorf("budget in use once every writer ended: %d bytes, want 0", n)
			}
		})
	}
}
