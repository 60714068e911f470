package rewrite

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"

	"sluice/internal/wire"
)

// A compressed response is decoded, rewritten and encoded again with the
// same content coding (RFC 9110 §8.4), so a client on a slow link still
// gets compressed bytes. The encoder is flushed whenever the rewriter is
// about to wait for the origin, so output still streams; the cost is a few
// bytes of block overhead per flush. deflate is always sent zlib-wrapped,
// as RFC 9110 §8.4.1.2 defines it, even when the origin sent raw deflate.

type coding int

const (
	identity coding = iota
	codingGzip
	codingDeflate
	codingBrotli
)

func (c coding) String() string {
	switch c {
	case codingGzip:
		return "gzip"
	case codingDeflate:
		return "deflate"
	case codingBrotli:
		return "br"
	}
	return "identity"
}

// Compression settings: speed over the last percent of size, since every
// rewritten response is compressed again on the request path.
const (
	flateLevel    = 5
	brotliQuality = 4
	brotliWindow  = 18 // 256 KiB
)

// contentCoding returns the single content coding of a response, and
// false when there are several or one the rewriter cannot decode.
func contentCoding(h http.Header) (coding, bool) {
	c := identity
	n := 0
	for _, v := range h["Content-Encoding"] {
		for v != "" {
			var e string
			e, v = wire.NextElement(v)
			switch strings.ToLower(e) {
			case "", "identity":
				continue
			case "gzip", "x-gzip":
				c = codingGzip
			case "deflate":
				c = codingDeflate
			case "br":
				c = codingBrotli
			default:
				return identity, false
			}
			n++
		}
	}
	return c, n <= 1
}

// pools keeps decoders and encoders between responses: a flate compressor
// alone is about a megabyte of tables. They belong to one Rules, so a
// configuration snapshot that is dropped takes them along.
type pools struct {
	bufr  sync.Pool // *bufio.Reader
	gzipR sync.Pool // *gzip.Reader
	zlibR sync.Pool // io.ReadCloser implementing zlib.Resetter
	flate sync.Pool // io.ReadCloser implementing flate.Resetter
	brR   sync.Pool // *brotli.Reader
	gzipW sync.Pool // *gzip.Writer
	zlibW sync.Pool // *zlib.Writer
	brW   sync.Pool // *brotli.Writer
}

// decoder reads a decoded body.
type decoder struct {
	c    coding
	bufr *bufio.Reader
	gz   *gzip.Reader
	fl   io.ReadCloser // zlib or raw deflate
	zlib bool
	br   *brotli.Reader
	r    io.Reader
}

// newDecoder starts decoding src. It reads the coding's header (gzip,
// zlib), so it blocks until the origin sends the first bytes. It returns
// io.EOF for an empty body, which some servers send with a coding.
func (p *pools) newDecoder(c coding, src io.Reader) (*decoder, error) {
	d := &decoder{c: c}
	if c == codingBrotli {
		if br, ok := p.brR.Get().(*brotli.Reader); ok {
			br.Reset(src)
			d.br = br
		} else {
			d.br = brotli.NewReader(src)
		}
		d.r = d.br
		return d, nil
	}
	if b, ok := p.bufr.Get().(*bufio.Reader); ok {
		b.Reset(src)
		d.bufr = b
	} else {
		d.bufr = bufio.NewReaderSize(src, 4096)
	}
	switch c {
	case codingGzip:
		var err error
		if gz, ok := p.gzipR.Get().(*gzip.Reader); ok {
			err = gz.Reset(d.bufr)
			d.gz = gz
		} else {
			d.gz, err = gzip.NewReader(d.bufr)
		}
		if err != nil {
			return d, err
		}
		d.r = d.gz
	case codingDeflate:
		// RFC 9110 §8.4.1.2 deflate is zlib (RFC 1950); some servers send
		// raw deflate (RFC 1951). A zlib header is CMF (method 8) and FLG
		// with CMF*256+FLG a multiple of 31.
		hdr, err := d.bufr.Peek(2)
		if len(hdr) < 2 {
			if err == io.EOF && len(hdr) == 1 {
				err = io.ErrUnexpectedEOF
			}
			return d, err // io.EOF: an empty body
		}
		d.zlib = hdr[0]&0x0f == 8 && (uint(hdr[0])<<8|uint(hdr[1]))%31 == 0
		if d.zlib {
			if zr, ok := p.zlibR.Get().(io.ReadCloser); ok {
				err = zr.(zlib.Resetter).Reset(d.bufr, nil)
				d.fl = zr
			} else {
				d.fl, err = zlib.NewReader(d.bufr)
			}
			if err != nil {
				return d, err
			}
		} else if fr, ok := p.flate.Get().(io.ReadCloser); ok {
			fr.(flate.Resetter).Reset(d.bufr, nil)
			d.fl = fr
		} else {
			d.fl = flate.NewReader(d.bufr)
		}
		d.r = d.fl
	}
	return d, nil
}

func (d *decoder) Read(p []byte) (int, error) { return d.r.Read(p) }

// release returns the decoder's parts to the pools.
func (p *pools) releaseDecoder(d *decoder) {
	if d == nil {
		return
	}
	if d.bufr != nil {
		d.bufr.Reset(nil)
		p.bufr.Put(d.bufr)
	}
	if d.gz != nil {
		p.gzipR.Put(d.gz)
	}
	if d.fl != nil {
		if d.zlib {
			p.zlibR.Put(d.fl)
		} else {
			p.flate.Put(d.fl)
		}
	}
	if d.br != nil {
		p.brR.Put(d.br)
	}
}

// encoder compresses into an io.Writer.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
}

func (p *pools) newEncoder(c coding, dst io.Writer) encoder {
	switch c {
	case codingGzip:
		if w, ok := p.gzipW.Get().(*gzip.Writer); ok {
			w.Reset(dst)
			return w
		}
		w, _ := gzip.NewWriterLevel(dst, flateLevel)
		return w
	case codingDeflate:
		if w, ok := p.zlibW.Get().(*zlib.Writer); ok {
			w.Reset(dst)
			return w
		}
		w, _ := zlib.NewWriterLevel(dst, flateLevel)
		return w
	case codingBrotli:
		if w, ok := p.brW.Get().(*brotli.Writer); ok {
			w.Reset(dst)
			return w
		}
		return brotli.NewWriterOptions(dst, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliWindow})
	}
	return nil
}

func (p *pools) releaseEncoder(e encoder) {
	switch w := e.(type) {
	case *gzip.Writer:
		w.Reset(io.Discard)
		p.gzipW.Put(w)
	case *zlib.Writer:
		w.Reset(io.Discard)
		p.zlibW.Put(w)
	case *brotli.Writer:
		w.Reset(io.Discard)
		p.brW.Put(w)
	}
}
