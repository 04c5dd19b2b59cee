package handler

import (
	"net/http"
	"strconv"
)

// ServerErrorBody is the whole body of the core's 500 page, sent when an
// app fails before its head (wsgiref's error_body). gatewayd cgi sends it
// too when it cannot start: one text, one place.
const ServerErrorBody = errorBody

// ErrorText is the body of every built-in error page: the status and its
// reason phrase as the status line spells them, "404 Not Found\n". The
// apps and the metrics listener answer their own errors with it (through
// Error), so that a client sees one style whichever part refused it.
func ErrorText(status int) string { return strconv.Itoa(status) + " " + reason(status) + "\n" }

// Error answers status with the built-in error page, as http.Error does
// (text/plain, nosniff).
func Error(w http.ResponseWriter, status int) {
	http.Error(w, strconv.Itoa(status)+" "+reason(status), status)
}
