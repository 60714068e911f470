package redisstore

import (
	"context"
	"encoding/binary"
	"fmt"

	"sluice/internal/cache/store"
)

// Update replaces the metadata of the object under key and keeps its
// body, in one script run inside Redis: readers see the old value or the
// new one, never a mix. The expiry restarts from TTL(meta).
//
// Like the other tiers' Update, it updates whatever object the key holds
// when it runs, which in a fleet may be another instance's refill since
// the caller read the object meta describes: then the refill's body gets
// headers derived from another response. UpdateIf and UpdateFunc do not.
//
// With AsyncCommit, Update, UpdateIf and UpdateFunc first wait for this
// Store's queued or in-flight value of the key to be sent: they apply to
// the object the last Commit stored, which Get already returns, and not
// to an older one the queued SET would then replace, taking the update
// with it. (Answering store.ErrNotFound instead would contradict Get.)
// The wait is short unless Redis is slow, and bounded: see awaitWrites.
// A key whose DEL this Store remembers (Delete) is not found.
func (s *Store) Update(ctx context.Context, key string, meta *store.Meta) error {
	return s.update(ctx, key, "", "", meta)
}

// UpdateIf is Update on condition that key still holds the body of
// generation gen (Generation of the entry the caller read and
// revalidated); otherwise it changes nothing and returns ErrReplaced.
func (s *Store) UpdateIf(ctx context.Context, key string, gen uint64, meta *store.Meta) error {
	return s.update(ctx, key, genArg(gen), "", meta)
}

// UpdateFunc replaces the metadata of the object under key with
// fn(its current metadata), keeping the body, if fn returns true; so the
// caller applies a 304 to what is stored now, checking its validators
// (RFC 9111 §4.3.4), instead of to the copy it read before. fn may run
// after another instance replaced the object; the update is made only if
// the object and its metadata are still the ones fn was given. It returns
// ErrReplaced when fn refuses or the object changed meanwhile, and
// store.ErrNotFound when there is none.
func (s *Store) UpdateFunc(ctx context.Context, key string, fn func(stored *store.Meta) (*store.Meta, bool)) error {
	rkey := s.prefix + key
	if err := s.beforeUpdate(ctx, rkey); err != nil {
		return err
	}
	first := min(firstRead, s.maxValue())
	v, err := s.getRange(ctx, rkey, first, s.timeout)
	if err != nil {
		return fmt.Errorf("redis: update: %w", err)
	}
	h, ok := parseHeader(v)
	if !ok || int64(h.metaLen) > maxMetaSize {
		return store.ErrNotFound
	}
	if metaEnd := headerSize + int64(h.metaLen); int64(len(v)) < metaEnd {
		if int64(len(v)) < first {
			return store.ErrNotFound
		}
		if v, err = s.getRange(ctx, rkey, metaEnd, s.timeout); err != nil {
			return fmt.Errorf("redis: update: %w", err)
		}
		if h2, ok := parseHeader(v); !ok || h2 != h || int64(len(v)) < metaEnd {
			return ErrReplaced
		}
	}
	raw := v[metaLenOff : headerSize+int(h.metaLen)] // the length and the metadata
	old, err := store.DecodeMeta(raw[4:])
	if err != nil {
		return store.ErrNotFound
	}
	meta, ok := fn(old)
	if !ok {
		return ErrReplaced
	}
	return s.update(ctx, key, genArg(h.gen), string(raw), meta)
}

func genArg(gen uint64) string {
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], gen)
	return string(g[:])
}

// beforeUpdate returns the error an update of rkey fails with before
// reaching Redis, having waited for this Store's queued values of rkey.
func (s *Store) beforeUpdate(ctx context.Context, rkey string) error {
	if err := s.admit(); err != nil {
		return fmt.Errorf("redis: update: %w", err)
	}
	if err := s.awaitWrites(ctx, rkey); err != nil {
		return fmt.Errorf("redis: update: %w", err)
	}
	if s.deletes.has(rkey) {
		return store.ErrNotFound
	}
	return nil
}

// update runs updateSource; gen and old are its conditions ("" for none).
func (s *Store) update(ctx context.Context, key, gen, old string, meta *store.Meta) error {
	if err := s.beforeUpdate(ctx, s.prefix+key); err != nil {
		return err
	}
	m := make([]byte, 4, 4+store.MetaSize(meta))
	m = store.AppendMeta(m, meta)
	if len(m)-4 > maxMetaSize {
		return fmt.Errorf("redis: metadata of %d bytes: %w", len(m)-4, store.ErrTooLarge)
	}
	binary.BigEndian.PutUint32(m, uint32(len(m)-4))
	ms := int64(0)
	if ttl := s.ttl(meta); ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	res, err := s.script.Run(cctx, s.client, []string{s.prefix + key}, gen, old, m, ms).Int64Slice()
	cancel()
	if err := s.observe(ctx, err); err != nil {
		return fmt.Errorf("redis: update: %w", err)
	}
	if len(res) != 3 {
		return fmt.Errorf("redis: update: unexpected reply %v", res)
	}
	switch res[0] {
	case updated:
	case missing:
		return store.ErrNotFound
	case replaced:
		return ErrReplaced
	default:
		return fmt.Errorf("redis: update: unexpected reply %v", res)
	}
	if res[2] == 0 { // deleted: TTL said useless
		s.entries.Add(-1)
	}
	s.bytes.Add(res[2] - res[1])
	return nil
}

// Results of updateSource, its first element.
const (
	updated  = 0
	missing  = -1
	replaced = -2
)

// updateSource replaces the metadata of the value under KEYS[1] and keeps
// its header and body, in one step inside Redis, so no reader sees a value
// half rewritten and no concurrent SET is lost or mixed in.
//
// ARGV[1] is the generation (8 bytes) the value must still have, or ""
// for any; ARGV[2] the metadata (with its 4-byte length) it must still
// have, or "" for any; ARGV[3] the new metadata with its length; ARGV[4]
// the expiry in milliseconds, ≤ 0 to delete the value instead. It
// returns {status, old length, new length}.
const updateSource = `
local v = redis.call('GET', KEYS[1])
if not v or string.len(v) < 24 or string.sub(v, 1, 4) ~= 'slc\1' then
  return {-1, 0, 0}
end
if ARGV[1] ~= '' and string.sub(v, 5, 12) ~= ARGV[1] then
  return {-2, 0, 0}
end
local a, b, c, d = string.byte(v, 21, 24)
local bodyOff = 24 + ((a * 256 + b) * 256 + c) * 256 + d
if ARGV[2] ~= '' and string.sub(v, 21, bodyOff) ~= ARGV[2] then
  return {-2, 0, 0}
end
local ttl = tonumber(ARGV[4])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return {0, string.len(v), 0}
end
local nv = string.sub(v, 1, 20) .. ARGV[3] .. string.sub(v, bodyOff + 1)
redis.call('SET', KEYS[1], nv, 'PX', ttl)
return {0, string.len(v), string.len(nv)}
`
