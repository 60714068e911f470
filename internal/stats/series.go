package stats

import "time"

// point is one interval's counts.
type point struct {
	requests, hits, bytesOut, bytesFromCache, blocked, errors int64
}

// series is a ring of per-interval points covering a window. Bucket b
// holds the interval [base+b·interval, base+(b+1)·interval); base is the
// Stats' start rounded down to a multiple of interval, so that points end
// on round times. The ring holds the window's complete buckets and the
// current one, which Snapshot leaves out: a half-filled bucket would read
// as a drop in traffic.
//
// Nothing ticks: at, called with the current time, clears the buckets the
// clock has moved past since the last call, so gaps in traffic read as
// zeros. A clock that goes back is read as the current bucket.
type series struct {
	interval time.Duration
	base     time.Time
	cur      int64   // the bucket being filled; buckets before 0 never existed
	points   []point // bucket b is points[b%len(points)]
}

func newSeries(start time.Time, window, interval time.Duration) series {
	n := int((window + interval - 1) / interval) // complete points kept
	off := time.Duration(start.UnixNano() % int64(interval))
	if off < 0 {
		off += interval
	}
	return series{interval: interval, base: start.Add(-off), points: make([]point, n+1)}
}

// at advances the series to now and returns the point now falls in.
func (s *series) at(now time.Time) *point {
	s.advance(now)
	return &s.points[s.cur%int64(len(s.points))]
}

func (s *series) advance(now time.Time) {
	b := int64(now.Sub(s.base) / s.interval)
	if b <= s.cur {
		return
	}
	if b-s.cur >= int64(len(s.points)) {
		clear(s.points)
	} else {
		for i := s.cur + 1; i <= b; i++ {
			s.points[i%int64(len(s.points))] = point{}
		}
	}
	s.cur = b
}

// window returns the complete buckets, oldest first, at most the window's
// worth, and the end of the last one.
func (s *series) window(now time.Time) (pts []point, end time.Time) {
	s.advance(now)
	n := min(s.cur, int64(len(s.points)-1))
	pts = make([]point, 0, n)
	for b := s.cur - n; b < s.cur; b++ {
		pts = append(pts, s.points[b%int64(len(s.points))])
	}
	return pts, s.base.Add(time.Duration(s.cur) * s.interval)
}
