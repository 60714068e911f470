package tiered_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
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
