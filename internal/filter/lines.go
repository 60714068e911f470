package filter

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// lineReader reads a list one bounded line at a time. Lines read ahead by
// detect are held and returned again, in order, before reading goes on.
type lineReader struct {
	br   *bufio.Reader
	n    int   // number of the line next returned last
	err  error // the first read error other than io.EOF
	done bool

	held     []heldLine
	heldData []byte
}

type heldLine struct {
	start, end int // in heldData
	long       bool
}

func newLineReader(r io.Reader) *lineReader {
	// The buffer holds a longest line and its CR LF, so that ReadSlice
	// fills it only for lines that are too long.
	return &lineReader{br: bufio.NewReaderSize(r, MaxLine+2)}
}

// next returns the next line without its line break, and whether it was
// longer than MaxLine (then line is nil). ok is false at the end of input
// or after a read error. line is valid until the following call.
func (lr *lineReader) next() (line []byte, long, ok bool) {
	if len(lr.held) > 0 {
		h := lr.held[0]
		line = lr.heldData[h.start:h.end]
		if lr.held = lr.held[1:]; len(lr.held) == 0 {
			lr.held, lr.heldData = nil, nil
		}
		lr.n++
		return line, h.long, true
	}
	line, long, ok = lr.read()
	if ok {
		lr.n++
	}
	return line, long, ok
}

// read reads a line from the input, bypassing held lines.
func (lr *lineReader) read() (line []byte, long, ok bool) {
	if lr.done {
		return nil, false, false
	}
	b, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long = true
		for err == bufio.ErrBufferFull {
			_, err = lr.br.ReadSlice('\n')
		}
		b = nil
	}
	if err != nil {
		lr.done = true
		if err != io.EOF {
			lr.err = err
			return nil, false, false
		}
		if len(b) == 0 && !long {
			return nil, false, false
		}
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > MaxLine {
		return nil, true, true
	}
	return b, long, true
}

// hold keeps a copy of a line read ahead, to be returned by next.
func (lr *lineReader) hold(line []byte, long bool) {
	start := len(lr.heldData)
	lr.heldData = append(lr.heldData, line...)
	lr.held = append(lr.held, heldLine{start, len(lr.heldData), long})
}

// trimSpace removes ASCII white space, and a UTF-8 byte order mark, from
// both ends of a line.
func trimSpace[T ~string | ~[]byte](b T) T {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		b = b[3:]
	}
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// arena copies rule texts into large shared strings, so that a list of
// 100,000 rules is a few dozen allocations rather than 100,000. A chunk is
// never written past its capacity, so strings handed out stay valid and
// unchanged.
type arena struct {
	b    *strings.Builder
	size int
}

const arenaMax = 64 << 10

func (a *arena) add(p []byte) string {
	if a.b == nil || a.b.Cap()-a.b.Len() < len(p) {
		a.size = min(max(2*a.size, 4<<10), arenaMax)
		a.b = new(strings.Builder)
		a.b.Grow(max(a.size, len(p)))
	}
	n := a.b.Len()
	a.b.Write(p)
	return a.b.String()[n:]
}

// lower returns s in lower case, copied into the arena only if it holds an
// upper-case ASCII letter.
func (a *arena) lower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = lowerTab[b[i]]
	}
	return a.add(b)
}
