package stats

import (
	"net"
	"time"
)

// tunnelList is the open tunnels, oldest first, in a doubly linked list
// around a sentinel, so that opening and closing one costs O(1) however
// many are open. It remembers at most trackedTunnels; the connection
// limits bound the tunnels far below that in practice.
type tunnelList struct {
	root openTunnel // root.next is the oldest, root.prev the newest
	n    int
}

type openTunnel struct {
	host, client, user string
	since              time.Time
	prev, next         *openTunnel // nil once closed
}

func (l *tunnelList) init() {
	l.root.next = &l.root
	l.root.prev = &l.root
}

// TunnelOpened adds a tunnel to the list of open tunnels and returns the
// function that removes it, which the caller must call once the tunnel
// has closed (calling it again does nothing). host is the CONNECT target
// ("example.com:443"), client the client's address (its port is left
// out), user the authenticated user or "".
//
// A CONNECT reaches Observe only when its tunnel closes; this list is what
// shows the tunnels in between. Past 4096 open tunnels, further ones are
// not listed.
func (s *Stats) TunnelOpened(host, client, user string) (closed func()) {
	if h, _, err := net.SplitHostPort(client); err == nil {
		client = h
	}
	t := &openTunnel{host: host, client: client, user: user, since: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.tunnels
	if l.n >= trackedTunnels {
		return func() {}
	}
	t.prev, t.next = l.root.prev, &l.root
	l.root.prev.next = t
	l.root.prev = t
	l.n++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.next == nil {
			return
		}
		t.prev.next = t.next
		t.next.prev = t.prev
		t.prev, t.next = nil, nil
		l.n--
	}
}

// OpenTunnels returns the number of tunnels in the list: those opened
// with TunnelOpened and not yet closed.
func (s *Stats) OpenTunnels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tunnels.n
}

// oldest returns up to n open tunnels, oldest first.
func (l *tunnelList) oldest(n int) []Tunnel {
	out := make([]Tunnel, 0, min(n, l.n))
	for t := l.root.next; t != &l.root && len(out) < n; t = t.next {
		out = append(out, Tunnel{Host: t.host, Client: t.client, User: t.user, Since: utc(t.since)})
	}
	return out
}
