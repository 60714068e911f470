package config

import (
	"strings"
	"testing"
	"time"
)

func TestRedisCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    func(*Redis)
		want string // "" when valid
	}{
		{"off", func(r *Redis) {}, ""},
		{"one server", func(r *Redis) { r.Addrs = []string{"10.0.0.5:6379"} }, ""},
		{"cluster seeds", func(r *Redis) { r.Addrs = []string{"a.example:7000", "b.example:7000"}; r.Cluster = true }, ""},
		{"two without cluster", func(r *Redis) { r.Addrs = []string{"a:6379", "b:6379"} }, "set cluster: true"},
		{"no port", func(r *Redis) { r.Addrs = []string{"10.0.0.5"} }, "want host:port"},
		{"bad port", func(r *Redis) { r.Addrs = []string{"h:99999"} }, "1-65535"},
		{"negative db", func(r *Redis) { r.DB = -1 }, "redis.db"},
		{"db in a cluster", func(r *Redis) { r.Cluster = true; r.DB = 3 }, "only database 0"},
		{"empty prefix", func(r *Redis) { r.Prefix = "" }, "redis.prefix"},
		{"zero timeout", func(r *Redis) { r.Timeout = 0 }, "redis.timeout"},
		{"negative size", func(r *Redis) { r.MaxObjectSize = -1 }, "redis.max_object_size"},
		{"huge size", func(r *Redis) { r.MaxObjectSize = GiB }, "512MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.r(&c.Redis)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	d := Default().Redis
	if d.Enabled() || d.Prefix != "sluice:" || d.Timeout.D() != 20*time.Millisecond || d.MaxObjectSize != 8*MiB {
		t.Errorf("defaults: %+v", d)
	}
}
