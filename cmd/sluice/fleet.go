package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	redisstore "sluice/internal/cache/store/redis"
	"sluice/internal/config"
	"sluice/internal/fleet"
	"sluice/internal/metrics"
)

// shared is the fleet's side of the cache: the Redis client, the bus of
// invalidations, and the tier's state for metrics and logs.
type shared struct {
	client  redis.UniversalClient
	store   *redisstore.Store
	bus     *fleet.Bus
	up      atomic.Bool
	changes atomic.Int64
}

// state is metrics.Options.Shared.
func (s *shared) state() (metrics.Shared, bool) {
	if s == nil || s.bus == nil {
		return metrics.Shared{}, false
	}
	bs := s.bus.Stats()
	return metrics.Shared{Up: s.up.Load(), Following: s.bus.Subscribed(), StateChanges: s.changes.Load(),
		Sent: bs.Sent, Received: bs.Received, Dropped: bs.Dropped}, true
}

// stateChanged is redisstore.Options.OnStateChange: one log line per
// change.
func (s *shared) stateChanged(cfg *config.Redis, log *slog.Logger) func(bool) {
	addrs := strings.Join(cfg.Addrs, ",")
	return func(up bool) {
		s.up.Store(up)
		s.changes.Add(1)
		if up {
			log.Info("shared cache tier is back; sharing resumes", "redis", addrs)
		} else {
			log.Warn("shared cache tier is not answering; serving from the local tiers and origins until it does", "redis", addrs, "timeout", cfg.Timeout.String())
		}
	}
}

// newRedisClient builds the client cfg describes: one server, or a
// cluster from its seed nodes. Every call is bounded by its context's
// deadline and not retried: the shared tier's breaker decides when to
// try Redis again.
func newRedisClient(cfg *config.Redis) (redis.UniversalClient, error) {
	password := cfg.Password
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis.password_file: %w", err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		password = strings.TrimRight(first, "\r")
	}
	var tlsConf *tls.Config
	if cfg.TLS || cfg.TLSCA != "" {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TLSServerName}
		if cfg.TLSCA != "" {
			pem, err := os.ReadFile(cfg.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("redis.tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis.tls_ca: %s holds no PEM certificate", cfg.TLSCA)
			}
			tlsConf.RootCAs = pool
		}
	}
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	timeout := cfg.Timeout.D()
	if cfg.Cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cfg.Addrs, Username: cfg.Username, Password: password, TLSConfig: tlsConf,
			ContextTimeoutEnabled: true, DialerRetries: 1, MaxRetries: -1, MaxRedirects: 3,
			DialTimeout: 2 * time.Second, PoolTimeout: timeout,
		}), nil
	}
	return redis.NewClient(&redis.Options{
		Addr: cfg.Addrs[0], Username: cfg.Username, Password: password, DB: cfg.DB, TLSConfig: tlsConf,
		ContextTimeoutEnabled: true, DialerRetries: 1, MaxRetries: -1,
		DialTimeout: 2 * time.Second, PoolTimeout: timeout,
	}), nil
}

// redisLogger routes go-redis's own messages (failed dials, pool
// trouble) to the debug log: the shared tier logs each change of state
// once, and a Redis that is down must not flood stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}

// warmConns is how many connections checkRedis opens at start.
const warmConns = 4

// checkRedis says at start whether Redis answers. Either way the proxy
// starts: Redis is a helper, and the tier connects when it can.
func checkRedis(c redis.UniversalClient, cfg *config.Redis, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs := strings.Join(cfg.Addrs, ",")
	// Open a few connections now, under this generous limit, rather
	// than inside requests' 20 ms: a connection, with TLS most of all,
	// can take longer than that to set up. (go-redis's MinIdleConns would
	// keep some open, but its idle connections fail every write over TLS
	// in v9.23.)
	errs := make(chan error, warmConns)
	for range warmConns {
		go func() { errs <- c.Ping(ctx).Err() }()
	}
	var err error
	for range warmConns {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		log.Warn("shared cache tier: Redis does not answer yet; serving from the local tiers until it does", "redis", addrs, "err", err)
		return
	}
	log.Info("shared cache tier", "redis", addrs, "prefix", cfg.Prefix, "max_object_size", cfg.MaxObjectSize.String())
}
