package rewrite

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the out.html sections of testdata/golden/*.txtar from the current output")

// TestGolden rewrites the in.html section of each testdata/golden/*.txtar
// with the rules in its rules.json section (HTMLRule and HeaderRule fields
// by their Go names), served with the type in its content-type section
// (text/html if there is none), and compares the result with its out.html
// section. The output must not depend on how the page arrives: it is also
// fed a byte at a time, in 7-byte chunks, and gzip-compressed. Run with
// -update to rewrite the out.html sections, then review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/golden/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ar := parseTxtar(data)
			var rules struct {
				Headers []HeaderRule
				HTML    []HTMLRule
			}
			if err := json.Unmarshal(ar.get(t, "rules.json"), &rules); err != nil {
				t.Fatalf("rules.json: %v", err)
			}
			rs := mustCompile(t, rules.Headers, rules.HTML)
			ct := "text/html"
			if s, ok := ar.lookup("content-type"); ok {
				ct = strings.TrimSpace(string(s))
			}
			in := ar.get(t, "in.html")
			got := goldenRewrite(t, rs, ct, in, 0, false)
			if *update {
				ar.set("out.html", got)
				if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := ar.lookup("out.html")
			if !ok {
				t.Fatal("no out.html section (run go test -update to create it)")
			}
			// txtar sections end with a newline; an output that does not
			// was stored with one added.
			if !bytes.Equal(got, want) && !(!bytes.HasSuffix(got, []byte("\n")) && bytes.Equal(append(got, '\n'), want)) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			for _, chunk := range []int{1, 7} {
				if other := goldenRewrite(t, rs, ct, in, chunk, false); !bytes.Equal(other, got) {
					t.Errorf("in %d-byte chunks: got\n%s\nwant\n%s", chunk, other, got)
				}
			}
			if other := goldenRewrite(t, rs, ct, in, 0, true); !bytes.Equal(other, got) {
				t.Errorf("gzip-compressed: got\n%s\nwant\n%s", other, got)
			}
		})
	}
}

// goldenRewrite rewrites a page arriving in chunks of chunk bytes (0: all
// at once), gzip-compressed or not, and returns the decoded result.
func goldenRewrite(t *testing.T, rs *Rules, ct string, page []byte, chunk int, compress bool) []byte {
	t.Helper()
	req := newRequest(t, "GET", "http://news.example/2024/05/bridge.html")
	body := page
	header := []string{"Content-Type: " + ct}
	if compress {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(page)
		w.Close()
		body = b.Bytes()
		header = append(header, "Content-Encoding: gzip")
	}
	var r io.Reader = bytes.NewReader(body)
	if chunk > 0 {
		r = &chunkReader{data: body, n: chunk}
	}
	resp := newResponse(req, 200, r, header...)
	rs.Response(req, resp)
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if compress {
		zr, err := gzip.NewReader(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		if got, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// txtar is a minimal reader and writer of the txtar format
// (golang.org/x/tools/txtar): a comment, then sections that each start
// with a "-- name --" line.
type txtar struct {
	comment []byte
	names   []string
	data    [][]byte
}

func parseTxtar(b []byte) *txtar {
	ar := &txtar{}
	cur := &ar.comment
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		trim := bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(trim, []byte("-- ")) && bytes.HasSuffix(trim, []byte(" --")) && len(trim) > 6 {
			ar.names = append(ar.names, string(trim[3:len(trim)-3]))
			ar.data = append(ar.data, nil)
			cur = &ar.data[len(ar.data)-1]
			continue
		}
		*cur = append(*cur, line...)
	}
	return ar
}

func (ar *txtar) lookup(name string) ([]byte, bool) {
	for i, n := range ar.names {
		if n == name {
			return ar.data[i], true
		}
	}
	return nil, false
}

func (ar *txtar) get(t *testing.T, name string) []byte {
	t.Helper()
	b, ok := ar.lookup(name)
	if !ok {
		t.Fatalf("no %s section", name)
	}
	return b
}

func (ar *txtar) set(name string, data []byte) {
	for i, n := range ar.names {
		if n == name {
			ar.data[i] = data
			return
		}
	}
	ar.names = append(ar.names, name)
	ar.data = append(ar.data, data)
}

func (ar *txtar) format() []byte {
	var b bytes.Buffer
	b.Write(ar.comment)
	for i, n := range ar.names {
		b.WriteString("-- " + n + " --\n")
		b.Write(ar.data[i])
		if d := ar.data[i]; len(d) > 0 && d[len(d)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
