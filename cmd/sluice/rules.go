package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/access"
	"sluice/internal/auth"
	"sluice/internal/config"
	"sluice/internal/filter"
	"sluice/internal/lists"
	"sluice/internal/privacy"
	"sluice/internal/proxy"
	"sluice/internal/rewrite"
)

// buildRules compiles the filtering, privacy and rewriting rules of cfg,
// reading lists through ls. It returns the files the rules were read from
// (to watch for changes). A list given as a URL that was never fetched is
// skipped with a warning, not an error: it blocks once fetched.
//
// prev, if not nil, holds the verifier of the previous build: it is kept
// (with its cache of verified credentials) when the htpasswd file has not
// changed, and replaced when it has.
func buildRules(cfg *config.Config, ls *lists.Store, log *slog.Logger, prev *htpasswdState) (*proxy.Rules, []string, error) {
	rs := &proxy.Rules{ReportOnly: cfg.Filter.ReportOnly}
	var files []string
	var errs []error

	if a := &cfg.Auth; a.Htpasswd != "" {
		files = append(files, a.Htpasswd)
		v, err := prev.verifier(a.Htpasswd, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("auth.htpasswd: %w", err))
		} else {
			rs.Auth = &proxy.Auth{Verifier: v, Realm: a.Realm, ProbeResistance: a.ProbeResistance, KnockHost: strings.ToLower(a.KnockHost)}
		}
	}
	if acl, err := newAccess(&cfg.Access); err != nil {
		errs = append(errs, err)
	} else {
		rs.Access = acl
	}
	load := func(sources []string) []*filter.List {
		var out []*filter.List
		for _, src := range sources {
			b, err := ls.Read(src)
			if errors.Is(err, lists.ErrNoCopy) {
				log.Warn("list not fetched yet; it applies once it is", "source", src)
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("list %s: %w", src, err))
				continue
			}
			if !lists.IsURL(src) {
				files = append(files, src)
			}
			l, err := filter.Parse(src, bytes.NewReader(b))
			if err != nil {
				errs = append(errs, fmt.Errorf("list %s: %w", src, err))
				continue
			}
			out = append(out, l)
		}
		return out
	}
	block, allow := load(cfg.Filter.Block), load(cfg.Filter.Allow)
	if len(block) > 0 {
		rs.Filter = filter.Compile(block, allow)
		// Third-party and $domain= rules compare sites by the Public
		// Suffix List rather than the filter's two-label approximation.
		rs.Filter.SiteOf = privacy.SiteOf
	}

	p, err := newPrivacy(&cfg.Privacy)
	if err != nil {
		errs = append(errs, err)
	}
	rs.Privacy = p

	rw, err := newRewrite(&cfg.Rewrite)
	if err != nil {
		errs = append(errs, err)
	}
	rs.Rewrite = rw
	if len(errs) > 0 {
		return nil, files, errors.Join(errs...)
	}
	return rs, files, nil
}

// newAccess compiles the access rules; nil when there are none and the
// default allows.
func newAccess(c *config.Access) (*access.List, error) {
	if len(c.Rules) == 0 && c.Default != "deny" {
		return nil, nil
	}
	rules := make([]access.Rule, len(c.Rules))
	for i, r := range c.Rules {
		rules[i] = access.Rule{
			Allow: r.Action == "allow", Users: r.Users, Clients: r.Clients, Methods: r.Methods,
			Hosts: r.Hosts, Ports: r.Ports, Dest: r.Dest, Name: fmt.Sprintf("access.rules[%d]", i),
		}
	}
	return access.Compile(rules, c.Default != "deny")
}

// htpasswdState remembers the verifier built from an htpasswd file and the
// file's stamp, so that a reload that leaves the file alone keeps the cache
// of verified credentials, and one that changes it starts afresh.
type htpasswdState struct {
	mu   sync.Mutex
	path string
	st   stamp
	v    *auth.Verifier
}

// verifier returns a verifier for the file at path, reusing the last one
// if the file is unchanged. A nil *htpasswdState always builds anew.
func (s *htpasswdState) verifier(path string, log *slog.Logger) (*auth.Verifier, error) {
	st := stampOf(path)
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.v != nil && s.path == path && s.st == st && st.ok {
			return s.v, nil
		}
	}
	f, err := auth.Load(path)
	if err != nil {
		return nil, err
	}
	if f.Users() == 0 {
		return nil, fmt.Errorf("%s has no users, so nobody could use the proxy", path)
	}
	for _, w := range f.Warnings() {
		log.Warn(w)
	}
	v := auth.NewVerifier(f, 0)
	if s != nil {
		s.path, s.st, s.v = path, st, v
	}
	log.Info("htpasswd loaded", "path", path, "users", f.Users())
	return v, nil
}

func newPrivacy(c *config.Privacy) (*privacy.Policy, error) {
	level, err := privacy.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("privacy.level: %w", err)
	}
	sites := map[string]privacy.Level{}
	for host, l := range c.Sites {
		if sites[host], err = privacy.ParseLevel(l); err != nil {
			return nil, fmt.Errorf("privacy.sites.%s: %w", host, err)
		}
	}
	if level == privacy.Off && len(sites) == 0 {
		return nil, nil
	}
	return privacy.New(privacy.Options{Default: level, Sites: sites, UserAgent: c.UserAgent, TrackingParams: c.TrackingParams})
}

func newRewrite(c *config.Rewrite) (*rewrite.Rules, error) {
	if len(c.Headers) == 0 && len(c.HTML) == 0 {
		return nil, nil
	}
	match := func(m config.RuleMatch) rewrite.Match {
		return rewrite.Match{URL: m.URL, Host: m.Host, ContentType: m.ContentType}
	}
	var hs []rewrite.HeaderRule
	for _, h := range c.Headers {
		hs = append(hs, rewrite.HeaderRule{Match: match(h.Match), Phase: h.Phase, Action: h.Action, Name: h.Name, Value: h.Value, Regex: h.Regex})
	}
	var html []rewrite.HTMLRule
	for _, h := range c.HTML {
		r := rewrite.HTMLRule{Match: match(h.Match), Remove: h.Remove, InjectHead: h.InjectHead, InjectBody: h.InjectBody}
		for _, t := range h.Replace {
			r.Replace = append(r.Replace, rewrite.TextReplace{Regex: t.Regex, With: t.With})
		}
		html = append(html, r)
	}
	rw, err := rewrite.Compile(hs, html)
	if err != nil {
		return nil, fmt.Errorf("rewrite: %w", err)
	}
	return rw, nil
}

// listDir is where last good copies of URL lists live.
func listDir(c *config.Filter) string {
	if c.Dir != "" {
		return c.Dir
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sluice-lists")
	}
	return filepath.Join(os.TempDir(), "sluice-lists")
}

// checkList accepts fetched content that parses as a list with rules.
func checkList(source string, b []byte) error {
	l, err := filter.Parse(source, bytes.NewReader(b))
	if err != nil {
		return err
	}
	if l.Stats().Rules() == 0 {
		return errors.New("no rules in it")
	}
	return nil
}

// rules holds the current snapshot and rebuilds it: on SIGHUP, when the
// configuration file or a list file changes, and when a URL list is
// fetched anew. A rebuild that fails keeps the old snapshot and logs why;
// requests in flight keep the snapshot they started with.
type rules struct {
	cur  atomic.Pointer[proxy.Rules]
	log  *slog.Logger
	ls   *lists.Store
	load func() (*config.Config, error) // reads the file and applies the flags

	htpasswd htpasswdState

	mu    sync.Mutex // serialises rebuilds; guards what follows
	cfg   *config.Config
	files map[string]stamp // the configuration file and list files, as last read
}

// stamp identifies a version of a file cheaply.
type stamp struct {
	size  int64
	mtime time.Time
	ok    bool
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{size: fi.Size(), mtime: fi.ModTime(), ok: true}
}

// get returns the current snapshot (proxy.Options.Rules).
func (r *rules) get() *proxy.Rules { return r.cur.Load() }

// start builds the first snapshot from cfg; an error here is fatal.
func (r *rules) start(cfg *config.Config, configFile string) error {
	rs, files, err := buildRules(cfg, r.ls, r.log, &r.htpasswd)
	if err != nil {
		return err
	}
	r.cur.Store(rs)
	r.cfg = cfg
	r.files = r.stamps(configFile, files)
	return nil
}

func (r *rules) stamps(configFile string, files []string) map[string]stamp {
	m := map[string]stamp{}
	if configFile != "" {
		m[configFile] = stampOf(configFile)
	}
	for _, f := range files {
		m[f] = stampOf(f)
	}
	return m
}

// reload re-reads the configuration and lists and swaps in the new rules,
// or keeps the old ones and logs why.
//
// It returns the error that kept the old rules, for the admin page.
func (r *rules) reload(why, configFile string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := r.load()
	if err != nil {
		r.log.Error("reload failed; keeping the previous configuration", "why", why, "err", err)
		r.files = r.stamps(configFile, r.fileNames()) // do not retry the same broken file every poll
		return err
	}
	rs, files, err := buildRules(cfg, r.ls, r.log, &r.htpasswd)
	if err != nil {
		r.files = r.stamps(configFile, append(files, r.fileNames()...))
		r.log.Error("reload failed; keeping the previous rules", "why", why, "err", err)
		return err
	}
	r.files = r.stamps(configFile, files)
	for _, k := range staticChanges(r.cfg, cfg) {
		r.log.Warn("setting changed; restart sluice to apply it", "key", k)
	}
	r.cur.Store(rs)
	r.cfg = cfg
	r.log.Info("rules reloaded", "why", why)
	return nil
}

// config returns the configuration the current rules were built from.
func (r *rules) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

func (r *rules) fileNames() []string {
	var out []string
	for f := range r.files {
		out = append(out, f)
	}
	return out
}

// changed reports whether a watched file differs from when it was read.
func (r *rules) changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for f, s := range r.files {
		if stampOf(f) != s {
			return true
		}
	}
	return false
}

// watch polls the watched files every interval and reloads when one
// changes, until ctx is done. Polling needs no platform support and costs
// a few stat calls a second.
func (r *rules) watch(ctx context.Context, interval time.Duration, configFile string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.changed() {
				r.reload("a file changed", configFile)
			}
		}
	}
}

// refresh fetches the URL lists now and then every cfg.Filter.Refresh,
// reloading when one changed, until ctx is done.
func (r *rules) refresh(ctx context.Context, configFile string) {
	for {
		r.mu.Lock()
		cfg := r.cfg
		r.mu.Unlock()
		changed := false
		for _, src := range append(append([]string(nil), cfg.Filter.Block...), cfg.Filter.Allow...) {
			if !lists.IsURL(src) {
				continue
			}
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			c, err := r.ls.Fetch(fctx, src)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.log.Warn("fetching a list failed; keeping the last good copy", "source", src, "err", err)
			}
			changed = changed || c
		}
		if changed {
			r.reload("a list was updated", configFile)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Filter.Refresh.D()):
		}
	}
}

// staticChanges lists the settings that differ between a and b and need a
// restart: everything but the filter, privacy, rewrite, auth and access
// sections.
func staticChanges(a, b *config.Config) []string {
	var out []string
	av, bv := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := av.Type()
	for i := range t.NumField() {
		switch t.Field(i).Name {
		case "Filter", "Privacy", "Rewrite", "Auth", "Access":
			continue
		}
		if !reflect.DeepEqual(av.Field(i).Interface(), bv.Field(i).Interface()) {
			name := t.Field(i).Tag.Get("yaml")
			out = append(out, name)
		}
	}
	return out
}
