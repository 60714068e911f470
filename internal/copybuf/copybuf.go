// Package copybuf pools the 32 KiB buffers that body and tunnel copies use,
// one pool for the whole proxy so idle buffers are shared rather than kept
// per package.
//
// It does not size buffers to the transfer: callers needing larger or
// smaller ones allocate their own.
package copybuf

import "sync"

// Size is the length of every pooled buffer.
const Size = 32 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}

// Get returns a buffer of Size bytes; give it back with Put.
func Get() *[]byte { return pool.Get().(*[]byte) }

// Put returns a buffer from Get to the pool. The caller must not use it
// afterwards.
func Put(b *[]byte) { pool.Put(b) }
