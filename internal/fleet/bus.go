// Package fleet keeps the local cache tiers of instances that share a
// Redis tier in step: when one instance invalidates a response (PURGE,
// an unsafe method, a purge of a whole host), the others drop their own
// memory and disk copies of it, which the shared tier alone cannot reach.
//
// Invalidations travel through a Redis stream, one per fleet (the key
// prefix plus "invalidate"), rather than pub/sub: pub/sub delivers only to
// the instances connected at that instant, so a purge made while one
// instance was reconnecting would never reach it. Each instance reads the
// stream from the last message it applied, so after a network blip or a
// Redis failover it catches up. The stream keeps its last 100,000
// messages. What an instance cannot send while Redis is away it holds
// (bounded) and sends when Redis answers again. Messages lost anyway
// (Redis restarted empty while an instance was cut off) are logged; those
// local copies then stay until they expire.
//
// It does not delete from Redis: the instance that invalidates does that
// through the shared tier, before it announces.
package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache/store"
)

// Options configure a Bus.
type Options struct {
	// Client talks to Redis; the caller closes it after the Bus.
	Client redis.UniversalClient
	// Stream is the key of the Redis stream the fleet shares, like
	// "sluice:invalidate".
	Stream string
	// Local holds this instance's own tiers (memory, disk), not the
	// shared one: peers' invalidations are applied to it.
	Local store.Store
	// PurgeHost removes every response of host from Local, for a peer's
	// purge of a whole host. Nil ignores such purges.
	PurgeHost func(ctx context.Context, host string) (int, error)
	// Timeout bounds each call to Redis and each local deletion; default
	// 1s (nothing waits on these).
	Timeout time.Duration
	// Logger receives one line per change of the channel's state; nil
	// discards.
	Logger *slog.Logger
}

// Limits on what waits to be published while Redis is away. Keys beyond
// maxPendingKeys are dropped (and counted); a host purge, which covers
// its keys, is kept up to maxPendingHosts.
const (
	maxPendingKeys  = 10_000
	maxPendingHosts = 1_000
	publishBatch    = 256
	minRetry        = time.Second
	maxRetry        = 30 * time.Second
	readBatch       = 512
	receivePoll     = 5 * time.Second // the longest one XREAD blocks
	streamLen       = 100_000         // messages the stream keeps, about 15 MB
)

// Stats count a Bus's messages; they only grow.
type Stats struct {
	Sent     int64 // invalidations published
	Received int64 // peers' invalidations applied to the local tiers
	Dropped  int64 // invalidations not published: too many waited while Redis was away
}

// Bus publishes this instance's invalidations and applies its peers'.
type Bus struct {
	o    Options
	id   string // this instance, so it ignores its own messages
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	pending []string // messages waiting to be published, oldest first
	keys    int      // how many of them are key invalidations
	wake    chan struct{}

	sent, received, dropped atomic.Int64
	subscribed              atomic.Bool
	hostPurges              chan string
	applying                sync.Mutex // held while a message is applied; Close takes it
}

// New starts a Bus: a goroutine that publishes and one that subscribes.
func New(o Options) *Bus {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	var id [6]byte
	rand.Read(id[:])
	b := &Bus{
		o:          o,
		id:         hex.EncodeToString(id[:]),
		log:        o.Logger,
		wake:       make(chan struct{}, 1),
		hostPurges: make(chan string, maxPendingHosts),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.wg.Add(2)
	go b.publishLoop()
	go b.subscribeLoop()
	go b.purgeLoop()
	return b
}

// Close stops the Bus. Invalidations not yet published are dropped. It
// does not wait for a read of the stream under way (closing the client
// ends it; otherwise it ends within receivePoll), and nothing is applied
// to the local tiers after Close returns.
func (b *Bus) Close() {
	b.applying.Lock()
	b.stop()
	b.applying.Unlock()
	b.wg.Wait()
}

// Stats returns the Bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{Sent: b.sent.Load(), Received: b.received.Load(), Dropped: b.dropped.Load()}
}

// Subscribed reports whether the Bus is listening to its peers now.
func (b *Bus) Subscribed() bool { return b.subscribed.Load() }

// Invalidated tells the peers to drop their local copies of the entry
// under key. It does not wait.
func (b *Bus) Invalidated(key string) { b.enqueue("k " + key) }

// PurgedHost tells the peers to drop their local copies of every response
// of host. It does not wait.
func (b *Bus) PurgedHost(host string) { b.enqueue("h " + host) }

func (b *Bus) enqueue(msg string) {
	key := msg[0] == 'k'
	b.mu.Lock()
	switch {
	case key && b.keys >= maxPendingKeys, !key && len(b.pending)-b.keys >= maxPendingHosts:
		b.mu.Unlock()
		if b.dropped.Add(1) == 1 {
			b.log.Warn("fleet: too many invalidations wait for Redis; dropping some: other instances keep those local copies until they expire")
		}
		return
	}
	b.pending = append(b.pending, b.id+" "+msg)
	if key {
		b.keys++
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// publishLoop sends what is pending in batches, holding it back and
// retrying with a growing pause while Redis does not take it.
func (b *Bus) publishLoop() {
	defer b.wg.Done()
	var retry time.Duration
	var retryAt time.Time
	up := true
	for {
		var wait <-chan time.Time
		if retry > 0 {
			wait = time.After(time.Until(retryAt))
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
			if retry > 0 && time.Now().Before(retryAt) {
				continue // Redis is away: wait out the pause
			}
		case <-wait:
		}
		for {
			b.mu.Lock()
			batch := b.pending[:min(len(b.pending), publishBatch)]
			b.mu.Unlock()
			if len(batch) == 0 {
				retry = 0
				break
			}
			if err := b.publish(batch); err != nil {
				if b.ctx.Err() != nil {
					return
				}
				if up {
					b.log.Warn("fleet: cannot publish invalidations to Redis; holding them until it answers", "err", err)
					up = false
				}
				retry = min(max(2*retry, minRetry), maxRetry)
				retryAt = time.Now().Add(retry)
				break
			}
			if !up {
				b.log.Info("fleet: publishing invalidations again")
				up = true
			}
			b.mu.Lock()
			for _, m := range batch {
				if strings.HasPrefix(m[len(b.id)+1:], "k ") {
					b.keys--
				}
			}
			b.pending = b.pending[len(batch):]
			if len(b.pending) == 0 {
				b.pending = nil // let the backing array go
			}
			b.mu.Unlock()
			b.sent.Add(int64(len(batch)))
		}
	}
}

func (b *Bus) publish(batch []string) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.o.Timeout)
	defer cancel()
	cmds, err := b.o.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range batch {
			p.XAdd(ctx, &redis.XAddArgs{Stream: b.o.Stream, MaxLen: streamLen, Approx: true, Values: []string{"m", m}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// subscribeLoop reads the stream from where it left off and applies the
// peers' messages, pausing with a growing wait while Redis is away. After
// an outage it reads on from the last message it applied, so nothing
// published meanwhile is missed unless the stream lost it (Redis
// restarted empty, or trimmed past it), which it logs.
func (b *Bus) subscribeLoop() {
	var last streamID
	known := false // whether last is where this instance is
	var retry time.Duration
	for {
		if retry > 0 {
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(retry):
			}
		}
		var err error
		if !known {
			last, err = b.tail()
		} else if !b.subscribed.Load() {
			err = b.checkGap(last)
		}
		var streams []redis.XStream
		if err == nil {
			known = true
			// From here on, whatever is added to the stream is read.
			if !b.subscribed.Swap(true) {
				b.log.Info("fleet: following invalidations", "stream", b.o.Stream)
			}
			// The read blocks up to receivePoll; the client's own read
			// timeout is added to that, so a dead connection is noticed.
			streams, err = b.o.Client.XRead(b.ctx, &redis.XReadArgs{
				Streams: []string{b.o.Stream, last.String()},
				Count:   readBatch,
				Block:   receivePoll,
			}).Result()
			if errors.Is(err, redis.Nil) {
				err = nil
			}
		}
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if b.subscribed.Swap(false) {
				b.log.Warn("fleet: lost the invalidation stream; other instances' purges reach this one when it is back", "err", err)
			}
			retry = min(max(2*retry, minRetry), maxRetry)
			continue
		}
		retry = 0
		for _, st := range streams {
			for _, m := range st.Messages {
				if id, ok := parseStreamID(m.ID); ok {
					last = id
				}
				if p, ok := m.Values["m"].(string); ok {
					b.apply(p)
				}
			}
		}
	}
}

// tail returns the ID of the stream's last message, or 0-0 when it has
// none, so that reading starts after what was there already.
func (b *Bus) tail() (streamID, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.o.Timeout)
	defer cancel()
	ms, err := b.o.Client.XRevRangeN(ctx, b.o.Stream, "+", "-", 1).Result()
	if err != nil || len(ms) == 0 {
		return streamID{}, err
	}
	id, _ := parseStreamID(ms[0].ID)
	return id, nil
}

// checkGap logs when messages after last may be gone: the stream's oldest
// message is newer than last (Redis restarted empty, or trimmed the
// stream while this instance was away).
func (b *Bus) checkGap(last streamID) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.o.Timeout)
	defer cancel()
	ms, err := b.o.Client.XRangeN(ctx, b.o.Stream, "-", "+", 1).Result()
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		if last != (streamID{}) {
			b.log.Warn("fleet: the invalidation stream is empty (Redis restarted?); purges made by other instances while this one was cut off may be missed, and those local copies stay until they expire")
		}
		return nil
	}
	if oldest, ok := parseStreamID(ms[0].ID); ok && last.less(oldest) && last != (streamID{}) {
		b.log.Warn("fleet: invalidations older than the stream's oldest were missed while this instance was cut off; those local copies stay until they expire", "oldest", ms[0].ID)
	}
	return nil
}

// streamID is a Redis stream entry ID, milliseconds-sequence.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	a, c, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(c, 10, 64)
	return streamID{ms, seq}, err1 == nil && err2 == nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// apply carries out one peer's message: "<id> k <key>" or "<id> h <host>".
func (b *Bus) apply(payload string) {
	id, rest, ok := strings.Cut(payload, " ")
	if !ok || id == b.id || len(rest) < 3 || rest[1] != ' ' {
		return // ours, or not a message of this protocol
	}
	arg := rest[2:]
	b.applying.Lock()
	defer b.applying.Unlock()
	if b.ctx.Err() != nil {
		return // closed
	}
	switch rest[0] {
	case 'k':
		ctx, cancel := context.WithTimeout(b.ctx, b.o.Timeout)
		b.o.Local.Delete(ctx, arg)
		cancel()
		b.received.Add(1)
	case 'h':
		if b.o.PurgeHost == nil {
			return
		}
		select {
		case b.hostPurges <- arg:
		default:
			b.log.Warn("fleet: too many host purges from other instances at once; one was skipped", "host", arg)
		}
	}
}

// purgeLoop runs peers' host purges one at a time, off the subscriber,
// since a purge walks every local key.
func (b *Bus) purgeLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case host := <-b.hostPurges:
			n, err := b.o.PurgeHost(b.ctx, host)
			b.received.Add(1)
			if err != nil && b.ctx.Err() == nil {
				b.log.Warn("fleet: purging a host for another instance failed part-way", "host", host, "removed", n, "err", err)
			}
		}
	}
}
