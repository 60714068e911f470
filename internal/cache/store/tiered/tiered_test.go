package tiered_test

import (
	"log/slog"
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
