package peertest

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// UWSGISCGIArgs is the command line of a uWSGI SCGI server: processes
// single-threaded Python 3 worker processes under a master, serving the WSGI
// file wsgi on the unix socket socket, with request logging off and a
// listen backlog of 1024. The bench harness and the tests both start uWSGI
// with it.
func UWSGISCGIArgs(socket, wsgi string, processes int) []string {
	return []string{"uwsgi", "--plugin", "python3",
		"--scgi-socket", socket, "--wsgi-file", wsgi,
		"--master", "--processes", strconv.Itoa(processes), "--die-on-term", "--need-app",
		"--disable-logging", "--listen", "1024"}
}

// FcgiwrapArgs is the command line of fcgiwrap with children processes on
// the unix socket socket: it runs the file SCRIPT_FILENAME names.
func FcgiwrapArgs(socket string, children int) []string {
	return []string{"fcgiwrap", "-c", strconv.Itoa(children), "-s", "unix:" + socket}
}

// UWSGISCGI starts uWSGI ([UWSGISCGIArgs], one process) serving the WSGI
// file wsgi on dir/uwsgi.sock and returns the process and the socket's path
// once it accepts connections.
func UWSGISCGI(t testing.TB, dir, wsgi string) (*Process, string) {
	t.Helper()
	bin := Need(t, "uwsgi")
	Need(t, "/usr/lib/uwsgi/plugins/python3_plugin.so")
	socket := filepath.Join(dir, "uwsgi.sock")
	args := UWSGISCGIArgs(socket, wsgi, 1)
	p := Start(t, exec.Command(bin, args[1:]...))
	WaitReady(t, p, "uWSGI on "+socket, Dial("unix:"+socket))
	return p, socket
}

// Fcgiwrap starts fcgiwrap ([FcgiwrapArgs], two children) on
// dir/fcgiwrap.sock and returns the process and the socket's path once it
// accepts connections.
func Fcgiwrap(t testing.TB, dir string) (*Process, string) {
	t.Helper()
	bin := Need(t, "fcgiwrap", "/usr/sbin/fcgiwrap")
	socket := filepath.Join(dir, "fcgiwrap.sock")
	args := FcgiwrapArgs(socket, 2)
	p := Start(t, exec.Command(bin, args[1:]...))
	WaitReady(t, p, "fcgiwrap on "+socket, Dial("unix:"+socket))
	return p, socket
}
