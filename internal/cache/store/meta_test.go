package store

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestMetaRoundTrip(t *testing.T) {
	cases := []*Meta{
		{Status: 200, Header: http.Header{}},
		{
			Status:       404,
			Header:       http.Header{"Set-Cookie": {"a=1", "b=2"}, "Etag": {`"x"`}, "Empty": {""}},
			RequestTime:  time.Unix(1700000000, 123),
			ResponseTime: time.Unix(1700000001, 456),
		},
	}
	for _, m := range cases {
		b := AppendMeta(nil, m)
		if n := MetaSize(m); n < len(b) {
			t.Errorf("MetaSize = %d, encoding is %d bytes", n, len(b))
		}
		got, err := DecodeMeta(b)
		if err != nil {
			t.Fatalf("DecodeMeta: %v", err)
		}
		if got.Status != m.Status || !got.RequestTime.Equal(m.RequestTime) || !got.ResponseTime.Equal(m.ResponseTime) {
			t.Errorf("got %+v, want %+v", got, m)
		}
		if !reflect.DeepEqual(got.Header, m.Header) {
			t.Errorf("header: got %v, want %v", got.Header, m.Header)
		}
		// Every truncation is an error, never a panic or a silent success.
		for i := 0; i < len(b); i++ {
			if _, err := DecodeMeta(b[:i]); err == nil {
				t.Errorf("truncated at %d of %d decoded without error", i, len(b))
			}
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(AppendMeta(nil, &Meta{Status: 200, Header: http.Header{"A": {"b"}}}))
	f.Add([]byte{1, 200, 1, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		again, err := DecodeMeta(AppendMeta(nil, m))
		if err != nil {
			t.Fatalf("re-encoding of a decoded record fails: %v", err)
		}
		if again.Status != m.Status || len(again.Header) != len(m.Header) {
			t.Fatalf("round trip changed the record")
		}
	})
}
