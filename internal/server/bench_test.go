package server

import "testing"

// browserHead is what a browser sends a proxy for a page: absolute-form,
// ten header fields.
const browserHead = "GET http://www.example.com/articles/2024/index.html?ref=home HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-GB,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: http://www.example.com/\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Proxy-Connection: keep-alive\r\n" +
	"If-Modified-Since: Tue, 01 Oct 2024 10:00:00 GMT\r\n" +
	"\r\n"

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(browserHead)))
	for b.Loop() {
		if _, err := parseRequest(browserHead); err != nil {
			b.Fatal(err)
		}
	}
}
