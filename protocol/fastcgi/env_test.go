package fastcgi

import (
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
)

func TestEnvNormalisation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		literal bool
		params  map[string]string
		want    map[string]string
		absent  []string
	}{
		{"nginx stock params", false,
			map[string]string{"SCRIPT_NAME": "/a/b", "CONTENT_LENGTH": "", "CONTENT_TYPE": "", "REMOTE_USER": "",
				"AUTH_TYPE": "", "DOCUMENT_ROOT": ""},
			map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/a/b", "FCGI_ROLE": "RESPONDER", "DOCUMENT_ROOT": ""},
			[]string{"CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_USER", "AUTH_TYPE"}},
		{"a user is kept", false,
			map[string]string{"SCRIPT_NAME": "/a", "REMOTE_USER": "alice", "AUTH_TYPE": "Basic", "CONTENT_LENGTH": "0"},
			map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "Basic", "CONTENT_LENGTH": "0"}, nil},
		{"split_path_info", false,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y"},
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y"}, nil},
		{"empty PATH_INFO is kept", false,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": ""},
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": ""}, nil},
		{"LiteralPaths", true,
			map[string]string{"SCRIPT_NAME": "/a/b"},
			map[string]string{"SCRIPT_NAME": "/a/b"}, []string{"PATH_INFO"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Handler: &handler.Handler{App: demo.App{}}, LiteralPaths: tc.literal}
			c := dialTest(t, startServer(t, s))
			p := getParams("/")
			delete(p, "PATH_INFO")
			delete(p, "SCRIPT_NAME")
			for k, v := range tc.params {
				p[k] = v
			}
			c.write(encodeRequest(1, roleResponder, flagKeepConn, p, nil, false))
			env := demo.Parse(c.wait(1, 5*time.Second).body())
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want unset", k, v)
				}
			}
		})
	}
}

// Without CONTENT_LENGTH the first FCGI_STDIN record says whether a body
// (nginx streaming a chunked one) follows.
