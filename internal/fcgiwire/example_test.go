package fcgiwire_test

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// A client puts a whole small request into one buffer, for one write, and
// reads the answer record by record.
func Example() {
	env := [][2]string{{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "5"}, {"SCRIPT_FILENAME", "/srv/index.php"}}
	req := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn)
	req, mark := fcgiwire.OpenStream(req)
	for _, kv := range env {
		req = fcgiwire.AppendPair(req, kv[0], kv[1])
	}
	req = fcgiwire.CloseStream(req, mark, fcgiwire.TypeParams, 1)
	req = fcgiwire.AppendStream(req, fcgiwire.TypeStdin, 1, []byte("hello"))
	req = fcgiwire.AppendRecord(req, fcgiwire.TypeStdin, 1, nil)
	fmt.Println(len(req), "bytes in one write")

	// What php-fpm would answer.
	resp := fcgiwire.AppendRecord(nil, fcgiwire.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\nhi"))
	resp = fcgiwire.AppendRecord(resp, fcgiwire.TypeStdout, 1, nil)
	resp = fcgiwire.AppendEndRequest(resp, 1, 0, fcgiwire.RequestComplete)

	r := fcgiwire.NewReader(bufio.NewReader(bytes.NewReader(resp)))
	for {
		h, content, err := r.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		if h.Type == fcgiwire.TypeEndRequest {
			end, err := fcgiwire.ParseEndRequest(content)
			fmt.Println(h.Type, end.AppStatus, end.ProtocolStatus, err)
			return
		}
		fmt.Printf("%v %q\n", h.Type, content)
	}
	// Output:
	// 128 bytes in one write
	// STDOUT "Content-Type: text/plain\r\n\r\nhi"
	// STDOUT ""
	// END_REQUEST 0 FCGI_REQUEST_COMPLETE <nil>
}
