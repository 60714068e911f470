//go:build !linux

package splice

import "errors"

const supported = false

type state struct{}

// Copy is not available here: callers check Supported first.
func (s *Stream) Copy(limit int64) (int64, error) {
	return 0, errors.New("splice: not supported on this system")
}

// Done does nothing here.
func (s *Stream) Done() {}
