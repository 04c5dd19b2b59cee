package cgi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// hello answers with the method, SCRIPT_NAME, PATH_INFO and the body it read.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.Header().Set("X-Body-Error", "1")
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, r.Method+" "+env["SCRIPT_NAME"]+" "+env["PATH_INFO"]+" "+string(body))
})

// dateLine stands for the Date header, which changes every second.
var dateLine = regexp.MustCompile(`(?m)^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r$`)

func TestServeEnv(t *testing.T) {
	get := func(kv ...string) environ.Env {
		e := environ.Env{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SERVER_NAME": "example.org",
			"SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
			"SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/users/7"}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		name  string
		env   environ.Env
		stdin string
		o     Options
		want  string
	}{
		{
			name: "GET in gateway form",
			env:  get(),
			want: "Status: 200 OK\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /users/7 ",
		},
		{
			name:  "POST reads exactly CONTENT_LENGTH bytes",
			env:   get("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "5", "CONTENT_TYPE", "text/plain"),
			stdin: "helloTRAILING GARBAGE",
			want:  "Status: 200 OK\r\nContent-Length: 28\r\nContent-Type: text/plain\r\n\r\nPOST /app.cgi /users/7 hello",
		},
		{
			name:  "no CONTENT_LENGTH: no body read",
			env:   get("REQUEST_METHOD", "POST"),
			stdin: "not for the app",
			want:  "Status: 200 OK\r\nContent-Length: 23\r\nContent-Type: text/plain\r\n\r\nPOST /app.cgi /users/7 ",
		},
		{
			name:  "empty CONTENT_LENGTH and CONTENT_TYPE are dropped",
			env:   get("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "", "CONTENT_TYPE", ""),
			stdin: "x",
			want:  "Status: 200 OK\r\nContent-Length: 23\r\nContent-Type: text/plain\r\n\r\nPOST /app.cgi /users/7 ",
		},
		{
			name:  "short body",
			env:   get("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "10"),
			stdin: "abc",
			want:  "Status: 200 OK\r\nContent-Length: 26\r\nContent-Type: text/plain\r\nX-Body-Error: 1\r\n\r\nPOST /app.cgi /users/7 abc",
		},
		{
			name: "IIS duplicate path kept without the option",
			env:  get("PATH_INFO", "/app.cgi/users/7"),
			want: "Status: 200 OK\r\nContent-Length: 30\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /app.cgi/users/7 ",
		},
		{
			name: "IIS duplicate path removed with the option",
			env:  get("PATH_INFO", "/app.cgi/users/7"),
			o:    Options{IISPathDedup: true},
			want: "Status: 200 OK\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /users/7 ",
		},
		{
			name: "IIS option leaves a path without the copy alone",
			env:  get("PATH_INFO", "/app.cgix/users/7"),
			o:    Options{IISPathDedup: true},
			want: "Status: 200 OK\r\nContent-Length: 31\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /app.cgix/users/7 ",
		},
		{
			name: "NPH by SCRIPT_NAME",
			env:  get("SCRIPT_NAME", "/cgi-bin/nph-app", "PATH_INFO", ""),
			o:    Options{ServerSoftware: "gatewayd/test"},
			want: "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Length: 22\r\nContent-Type: text/plain\r\nServer: gatewayd/test\r\n\r\nGET /cgi-bin/nph-app  ",
		},
		{
			name: "NPH by SCRIPT_FILENAME, HTTP/1.0 client",
			env:  get("SCRIPT_FILENAME", "/usr/lib/cgi-bin/nph-gatewayd", "SERVER_PROTOCOL", "HTTP/1.0"),
			want: "HTTP/1.0 200 OK\r\nDate: *\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /users/7 ",
		},
		{
			name: "NPH by a Windows SCRIPT_FILENAME",
			env:  get("SCRIPT_FILENAME", `C:\inetpub\cgi\nph-gatewayd.exe`),
			want: "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /users/7 ",
		},
		{
			name: "NPH by option",
			env:  get(),
			o:    Options{NPH: true},
			want: "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\r\nGET /app.cgi /users/7 ",
		},
		{
			name: "nph- in a directory name is not NPH",
			env:  get("SCRIPT_NAME", "/nph-dir/app"),
			want: "Status: 200 OK\r\nContent-Length: 26\r\nContent-Type: text/plain\r\n\r\nGET /nph-dir/app /users/7 ",
		},
		{
			name: "HEAD",
			env:  get("REQUEST_METHOD", "HEAD"),
			want: "Status: 200 OK\r\nContent-Length: 23\r\nContent-Type: text/plain\r\n\r\n",
		},
		{
			name: "no REQUEST_METHOD: the host's fault, 400",
			env:  environ.Env{"SERVER_NAME": "x"},
			want: "Status: 400 Bad Request\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nBad Request\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			err := ServeEnv(context.Background(), tt.env, strings.NewReader(tt.stdin), &out, &errs, hello, tt.o)
			got := dateLine.ReplaceAllString(out.String(), "Date: *\r")
			if got != tt.want {
				t.Errorf("output\n%q\nwant\n%q", got, tt.want)
			}
			if strings.HasPrefix(tt.want, "Status: 500") != (err != nil) {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestShortBodyError(t *testing.T) {
	var got error
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = io.ReadAll(r.Body)
	})
	env := environ.Env{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "10"}
	if err := ServeEnv(context.Background(), env, strings.NewReader("abc"), io.Discard, io.Discard, app, Options{}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got, ErrShortBody) || !errors.Is(got, io.ErrUnexpectedEOF) {
		t.Errorf("body read error %v", got)
	}
}

func TestPanicGoesToStderr(t *testing.T) {
	var out, errs bytes.Buffer
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	err := ServeEnv(context.Background(), environ.Env{"REQUEST_METHOD": "GET"}, nil, &out, &errs, app, Options{})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v", err)
	}
	if !strings.HasPrefix(out.String(), "Status: 500 Internal Server Error\r\n") {
		t.Errorf("output %q", out.String())
	}
	if !strings.Contains(errs.String(), "app panicked: boom") {
		t.Errorf("stderr %q", errs.String())
	}
}

func TestCutShort(t *testing.T) {
	var out bytes.Buffer
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom")
	})
	err := ServeEnv(context.Background(), environ.Env{"REQUEST_METHOD": "GET"}, nil, &out, io.Discard, app, Options{})
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("error %v", err)
	}
	if out.String() != "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\npartial" {
		t.Errorf("output %q", out.String())
	}
}

func TestFromList(t *testing.T) {
	env := fromList([]string{"A=1", "B=x=y", "=C:=C:\\dir", "NOEQUALS", "A=2", "E=", "X=\xff\xfe"})
	want := environ.Env{"A": "1", "B": "x=y", "E": "", "X": "\xff\xfe"}
	if len(env) != len(want) {
		t.Errorf("got %q, want %q", env, want)
	}
	gwtest.CheckEnv(t, env, want)
}

func TestIsNPH(t *testing.T) {
	for _, tt := range []struct {
		sn, sf string
		want   bool
	}{
		{"/cgi-bin/nph-app", "", true},
		{"nph-app", "", true},
		{"", "/x/nph-gatewayd", true},
		{"", `C:\x\nph-gatewayd.exe`, true},
		{"/app", "/x/nph-gatewayd", true},
		{"/cgi-bin/app", "/x/gatewayd", false},
		{"/nph-/app", "", false},
		{"/cgi-bin/NPH-app", "", false},
		{"", "", false},
	} {
		env := environ.Env{"SCRIPT_NAME": tt.sn, "SCRIPT_FILENAME": tt.sf}
		if got := IsNPH(env); got != tt.want {
			t.Errorf("IsNPH(%q, %q) = %v", tt.sn, tt.sf, got)
		}
	}
}

// FuzzServeEnv runs arbitrary request variables and bodies through
// ServeEnv: the output must always start with a status.
func FuzzServeEnv(f *testing.F) {
	f.Add("GET", "5", "/app.cgi", "/app.cgi/x", "HTTP/1.1", "hello", true)
	f.Add("POST", "", "/cgi-bin/nph-app", "", "HTTP/1.0", "", false)
	f.Add("", "-1", "", "//", "HTTP/0.9", "x", true)
	f.Add("PUT", "99999999999999999999", "/a", "/a/", "INCLUDED", "", true)
	f.Fuzz(func(t *testing.T, method, length, sn, pi, proto, body string, iis bool) {
		env := environ.Env{"REQUEST_METHOD": method, "CONTENT_LENGTH": length, "SCRIPT_NAME": sn,
			"PATH_INFO": pi, "SERVER_PROTOCOL": proto, "SERVER_NAME": "x", "SERVER_PORT": "80"}
		var out bytes.Buffer
		_ = ServeEnv(context.Background(), env, strings.NewReader(body), &out, io.Discard, demo.App{}, Options{IISPathDedup: iis})
		s := out.String()
		if !strings.HasPrefix(s, "Status: ") && !strings.HasPrefix(s, "HTTP/1.") && !(proto == "HTTP/0.9" && IsNPH(env)) {
			t.Fatalf("output %q", s)
		}
	})
}
