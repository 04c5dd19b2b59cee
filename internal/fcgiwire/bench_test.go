package fcgiwire

import (
	"bufio"
	"bytes"
	"maps"
	"testing"
)

// nginxParams is what nginx sends for GET / with its stock fastcgi_params.
var nginxParams = map[string]string{
	"QUERY_STRING": "", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
	"SCRIPT_NAME": "/index.php", "REQUEST_URI": "/", "DOCUMENT_URI": "/index.php", "DOCUMENT_ROOT": "/srv/www",
	"SCRIPT_FILENAME": "/srv/www/index.php", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
	"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx/1.22.1", "REMOTE_ADDR": "127.0.0.1",
	"REMOTE_PORT": "51234", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_NAME": "localhost",
	"REDIRECT_STATUS": "200", "HTTP_HOST": "localhost:8080", "HTTP_USER_AGENT": "wrk",
	"HTTP_ACCEPT": "*/*", "HTTP_ACCEPT_ENCODING": "gzip, deflate",
}

// BenchmarkAppendRequest encodes a whole GET request for one write:
// BEGIN_REQUEST, the parameters straight from the map, and both terminators.
func BenchmarkAppendRequest(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	var mark int
	for b.Loop() {
		buf = AppendBeginRequest(buf[:0], 1, RoleResponder, FlagKeepConn)
		buf, mark = OpenStream(buf)
		for name, value := range nginxParams {
			buf = AppendPair(buf, name, value)
		}
		buf = CloseStream(buf, mark, TypeParams, 1)
		buf = AppendRecord(buf, TypeStdin, 1, nil)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendParamsSeq is the same parameters through AppendParams and
// an iterator.
func BenchmarkAppendParamsSeq(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf = AppendParams(buf[:0], 1, maps.All(nginxParams))
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkReadResponse reads php-fpm's answer to a hello world: one STDOUT
// record with head and body, the empty STDOUT, END_REQUEST.
func BenchmarkReadResponse(b *testing.B) {
	b.ReportAllocs()
	resp := AppendRecord(nil, TypeStdout, 1, []byte("X-Powered-By: PHP/8.2.29\r\nContent-type: text/html; charset=UTF-8\r\n\r\nHello World\n"))
	resp = AppendRecord(resp, TypeStdout, 1, nil)
	resp = AppendEndRequest(resp, 1, 0, RequestComplete)
	src := bytes.NewReader(resp)
	br := bufio.NewReaderSize(src, 16<<10)
	r := NewReader(br)
	b.SetBytes(int64(len(resp)))
	for b.Loop() {
		src.Reset(resp)
		br.Reset(src)
		for {
			h, content, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if h.Type == TypeEndRequest {
				if _, err := ParseEndRequest(content); err != nil {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
