package config

import (
	"net"
	"strconv"
	"strings"
)

// Redis holds the shared cache tier of a fleet of instances. In the file
// they are keys under "redis:". It is off unless addrs is set; then the
// cache looks up memory, disk (if on), Redis, and only then the origin,
// and what is fetched from origins is written to Redis for the other
// instances (see docs/fleet.md).
type Redis struct {
	// Addrs are the Redis (or Valkey) servers, host:port each. One
	// address is a single server; with cluster: true they are seed nodes
	// of a Redis Cluster. The default, empty, has no shared tier.
	// Changing it needs a restart. Flag: --redis (repeatable).
	Addrs []string `yaml:"addrs"`

	// Cluster treats addrs as seed nodes of a Redis Cluster, so keys are
	// spread over its shards. The default is false.
	Cluster bool `yaml:"cluster"`

	// Username is the Redis ACL user (Redis 6 and later). The default,
	// "", authenticates as the default user if a password is set.
	Username string `yaml:"username"`

	// Password authenticates to Redis (AUTH). Prefer password_file, so
	// the secret is not in the configuration. The default is "".
	Password string `yaml:"password"`

	// PasswordFile is a file whose first line is the Redis password;
	// it wins over password. The default is "".
	PasswordFile string `yaml:"password_file"`

	// DB is the Redis database number. The default is 0; a cluster has
	// only database 0.
	DB int `yaml:"db"`

	// Prefix is put before every key and names the invalidation channel,
	// so several fleets (or other applications) can share one Redis.
	// Instances that share a cache use the same prefix. The default is
	// "sluice:".
	Prefix string `yaml:"prefix"`

	// TLS connects to Redis with TLS, verifying its certificate against
	// the system's roots or tls_ca. The default is false.
	TLS bool `yaml:"tls"`

	// TLSCA is a PEM file of the certificate authorities that sign the
	// Redis servers' certificates, instead of the system's. It implies
	// tls. The default is "".
	TLSCA string `yaml:"tls_ca"`

	// TLSServerName is the name the servers' certificates must carry,
	// when it is not the host in addrs. The default is "".
	TLSServerName string `yaml:"tls_server_name"`

	// Timeout bounds every call to Redis, so that a slow or unreachable
	// Redis costs a request at most this long; after a few calls fail the
	// proxy stops calling Redis until it answers again. The default is
	// 20ms, ample for a Redis on the same network.
	Timeout Duration `yaml:"timeout"`

	// MaxObjectSize is the largest response body shared through Redis.
	// Larger ones stay in the local tiers. The default is 8MiB.
	MaxObjectSize Size `yaml:"max_object_size"`
}

// Enabled reports whether the shared tier is configured.
func (r *Redis) Enabled() bool { return len(r.Addrs) > 0 }

func (r *Redis) check(v *checker) {
	for i, a := range r.Addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			v.add("redis.addrs", i, "%q: want host:port, like 127.0.0.1:6379", a)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add("redis.addrs", i, "port %q in %q must be a number 1-65535", port, a)
		}
	}
	if len(r.Addrs) > 1 && !r.Cluster {
		v.add("redis.addrs", -1, "%d addresses without cluster: true; list one server, or set cluster: true if they are seed nodes of a Redis Cluster", len(r.Addrs))
	}
	if r.DB < 0 {
		v.add("redis.db", -1, "must not be negative, not %d", r.DB)
	}
	if r.Cluster && r.DB != 0 {
		v.add("redis.db", -1, "a Redis Cluster has only database 0, not %d", r.DB)
	}
	if r.Prefix == "" {
		v.add("redis.prefix", -1, `must not be empty; the default is "sluice:"`)
	} else if strings.ContainsAny(r.Prefix, " \t\r\n") {
		v.add("redis.prefix", -1, "%q must not contain white space", r.Prefix)
	}
	v.duration("redis.timeout", r.Timeout, true)
	if r.MaxObjectSize < 0 {
		v.add("redis.max_object_size", -1, "must not be negative")
	}
	if r.MaxObjectSize > 512*MiB {
		v.add("redis.max_object_size", -1, "must be at most 512MiB, the largest Redis value, not %s", r.MaxObjectSize)
	}
}
