package mem

import (
	"testing"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/storetest"
)

func TestConformance(t *testing.T) {
	const maxObject = 6 << 20
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T, dir string, capacity int64) store.Store {
			return New(Options{Capacity: capacity, MaxObjectSize: maxObject})
		},
		MaxObjectSize: maxObject,
	})
}
