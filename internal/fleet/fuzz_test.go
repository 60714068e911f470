package fleet

import (
	"context"
	"log/slog"
	"testing"

	"sluice/internal/cache/store/mem"
)

// FuzzApply feeds arbitrary stream messages, as a Redis others can write
// to might hold, to what a Bus does with one. Only "<id> k <key>" and
// "<id> h <host>" from another instance act; nothing panics.
func FuzzApply(f *testing.F) {
	for _, s := range []string{"peer k http://example.com/", "peer h example.com", "self k x", "peer", "peer k", " k ", "peer x y", ""} {
		f.Add(s)
	}
	local := mem.New(mem.Options{Capacity: 1 << 20})
	defer local.Close()
	f.Fuzz(func(t *testing.T, payload string) {
		var hosts []string
		b := &Bus{o: Options{Local: local, Timeout: 1e9, PurgeHost: func(_ context.Context, h string) (int, error) {
			hosts = append(hosts, h)
			return 0, nil
		}}, id: "self", log: slog.New(slog.DiscardHandler), hostPurges: make(chan string, 1)}
		b.ctx, b.stop = context.WithCancel(context.Background())
		defer b.stop()
		b.apply(payload)
		if len(payload) > 5 && payload[:5] == "self " && b.received.Load() != 0 {
			t.Fatalf("applied its own message %q", payload)
		}
	})
}

// FuzzStreamID checks that stream IDs that parse print back the same.
func FuzzStreamID(f *testing.F) {
	for _, s := range []string{"0-0", "1700000000000-3", "18446744073709551615-18446744073709551615", "1-", "-1", "a-b", "01-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseStreamID(s)
		if !ok {
			return
		}
		again, ok := parseStreamID(id.String())
		if !ok || again != id || again.less(id) || id.less(again) {
			t.Fatalf("%q parsed to %v, which prints %q and reparses to %v", s, id, id.String(), again)
		}
	})
}
