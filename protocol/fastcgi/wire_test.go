package fastcgi

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// The tests of this package speak to the server as a web server does, with
// the one FastCGI codec (internal/fcgiwire, where its byte tables are); these
// short names keep the tests' records readable.
const (
	typeBeginRequest    = fcgiwire.TypeBeginRequest
	typeAbortRequest    = fcgiwire.TypeAbortRequest
	typeEndRequest      = fcgiwire.TypeEndRequest
	typeParams          = fcgiwire.TypeParams
	typeStdin           = fcgiwire.TypeStdin
	typeStdout          = fcgiwire.TypeStdout
	typeStderr          = fcgiwire.TypeStderr
	typeData            = fcgiwire.TypeData
	typeGetValues       = fcgiwire.TypeGetValues
	typeGetValuesResult = fcgiwire.TypeGetValuesResult

	roleResponder  = fcgiwire.RoleResponder
	roleAuthorizer = fcgiwire.RoleAuthorizer
	roleFilter     = fcgiwire.RoleFilter
	flagKeepConn   = fcgiwire.FlagKeepConn
)

type (
	header     = fcgiwire.Header
	endRequest = fcgiwire.EndRequest
)

var (
	appendBeginRequest = fcgiwire.AppendBeginRequest
	appendRecord       = fcgiwire.AppendRecord
	appendStream       = fcgiwire.AppendStream
	appendPair         = fcgiwire.AppendPair
	readRecord         = fcgiwire.ReadRecord
	parseEndRequest    = fcgiwire.ParseEndRequest
)

// wireSeeds are one record of each kind a web server or an application
// sends, seeds for FuzzServe.
func wireSeeds() [][]byte {
	return [][]byte{
		appendBeginRequest(nil, 1, roleResponder, flagKeepConn),
		appendBeginRequest(nil, 258, roleAuthorizer, 0),
		fcgiwire.AppendEndRequest(nil, 1, 0, fcgiwire.RequestComplete),
		fcgiwire.AppendUnknownType(nil, 12),
		appendRecord(nil, typeStdout, 1, []byte("Hello")),
		appendRecord(nil, typeStderr, 7, []byte("warning!")),
		appendRecord(nil, typeParams, 1, appendPair(nil, "SERVER_PORT", "80")),
		fcgiwire.AppendGetValues(nil, fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns),
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}

// A pair may straddle records: the server joins the stream before decoding.
func TestPairsStraddleRecords(t *testing.T) {
	p := appendPair(nil, strings.Repeat("N", 200), "value")
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	// Split inside the 4-byte name length, then inside the name.
	b = appendRecord(b, typeParams, 1, p[:2])
	b = appendRecord(b, typeParams, 1, p[2:100])
	b = appendRecord(b, typeParams, 1, p[100:])
	params := pairs(getParams("/echo"))
	b = appendRecord(b, typeParams, 1, params)
	b = appendRecord(b, typeParams, 1, nil)
	b = appendRecord(b, typeStdin, 1, nil)
	addr := startServer(t, &Server{Handler: newServer(newTestApp()).Handler})
	c := dialTest(t, addr)
	c.write(b)
	r := c.wait(1, 5*time.Second)
	if !strings.HasPrefix(r.stdout.String(), "Status: 200 OK\r\n") {
		t.Errorf("response %q", r.stdout.String())
	}
}
