package hello

import (
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestApp(t *testing.T) {
	if bodyLength != strconv.Itoa(len(Body)) {
		t.Fatalf("bodyLength %s, len(Body) %d", bodyLength, len(Body))
	}
	rec := httptest.NewRecorder()
	App{}.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != Body || rec.Header().Get("Content-Length") != bodyLength {
		t.Fatalf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
