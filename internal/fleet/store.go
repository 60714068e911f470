package fleet

import (
	"context"
	"errors"
	"fmt"

	"sluice/internal/cache/store"
)

// Store is the cache's store on an instance of a fleet: the tiers of s
// (local ones over the shared one), announcing each deletion on the Bus
// so that peers drop their local copies too. Other writes are not
// announced: a peer's older copy of a replaced response stays valid for
// as long as its own freshness says.
type Store struct {
	store.Store
	bus *Bus
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Lister      = (*Store)(nil)
	_ store.Limiter     = (*Store)(nil)
	_ store.FuncUpdater = (*Store)(nil)
)

// Announcing returns s with its deletions announced on bus.
func Announcing(s store.Store, bus *Bus) *Store { return &Store{Store: s, bus: bus} }

// Delete removes the entry from every tier, then tells the peers. It
// announces even when a tier failed: the peers' copies are as stale
// either way.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.Store.Delete(ctx, key)
	s.bus.Invalidated(key)
	return err
}

// Keys lists the keys of s's tiers.
func (s *Store) Keys(ctx context.Context, fn func(key string) bool) error {
	l, ok := s.Store.(store.Lister)
	if !ok {
		return fmt.Errorf("fleet: %T cannot list its keys: %w", s.Store, errors.ErrUnsupported)
	}
	return l.Keys(ctx, fn)
}

// MaxObjectSize returns the largest body s's tiers accept, 0 if unknown.
func (s *Store) MaxObjectSize() int64 {
	if l, ok := s.Store.(store.Limiter); ok {
		return l.MaxObjectSize()
	}
	return 0
}

// UpdateFunc updates the entry's metadata from what each tier holds.
func (s *Store) UpdateFunc(ctx context.Context, key string, fn func(stored *store.Meta) (*store.Meta, bool)) error {
	return store.UpdateFunc(ctx, s.Store, key, fn)
}
