//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// recipe reads docs/recipes/name and fills in its {{KEY}} placeholders, so
// that the harness runs the configuration the docs show.
func (h *harness) recipe(name string, vars map[string]string) (string, error) {
	return peertest.LoadRecipe(name, vars)
}

// recipeKeepalive is the size of the upstream keepalive pool in one of
// docs/recipes' nginx files.
func recipeKeepalive(name string) (int, error) {
	r, err := peertest.RecipeText(name)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(r, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "keepalive "); ok {
			return strconv.Atoi(strings.TrimSuffix(v, ";"))
		}
	}
	return 0, fmt.Errorf("%s: no keepalive line", name)
}

// writeFile writes content to dir/name with mode and returns the path.
func writeFile(dir, name, content string, mode os.FileMode) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		return "", err
	}
	return p, os.Chmod(p, mode)
}

// subdir makes dir/name, readable by every user (php-fpm's workers are
// www-data).
func (h *harness) subdir(name string) (string, error) {
	d := filepath.Join(h.dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o755)
}

// nginx starts nginx (master and one worker, as root, on the server CPU)
// with servers as the inside of its http block, and waits until listen
// accepts connections.
func (h *harness) nginx(ctx context.Context, name, listen, servers string) error {
	dir, err := h.subdir(name)
	if err != nil {
		return err
	}
	path, err := peertest.WriteNginxConfig(dir, servers)
	if err != nil {
		return err
	}
	_, err = h.startReady(ctx, name, listen, nil, "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	return err
}

// nginxRecipe starts nginx with one of docs/recipes' server blocks, its
// {{GATEWAYD}} set to upstream, and returns the URL it serves.
func (h *harness) nginxRecipe(ctx context.Context, name, recipe, upstream string) (string, error) {
	listen, err := freePort()
	if err != nil {
		return "", err
	}
	servers, err := h.recipe(recipe, map[string]string{"GATEWAYD": upstream, "LISTEN": listen})
	if err != nil {
		return "", err
	}
	return "http://" + listen + "/hello", h.nginx(ctx, name, listen, servers)
}

// nginxServer starts nginx with one server block listening on a free port,
// whose inside is body, and extra beside it in the http block (upstreams);
// it returns the base URL.
func (h *harness) nginxServer(ctx context.Context, name, body, extra string) (string, error) {
	listen, err := freePort()
	if err != nil {
		return "", err
	}
	servers := fmt.Sprintf("%sserver {\n    listen %s;\n%s\n}\n", extra, listen, body)
	return "http://" + listen, h.nginx(ctx, name, listen, servers)
}

// hello starts bench/cmd/hello in mode on addr.
func (h *harness) hello(ctx context.Context, mode, addr string) error {
	argv := []string{h.bin("hello"), "-serve", mode, "-listen", addr}
	if h.opt.profile != "" {
		argv = append(argv, "-cpuprofile", filepath.Join(h.opt.profile, "hello-"+mode+".pprof"))
	}
	_, err := h.startReady(ctx, "hello-"+mode, addr, nil, argv...)
	return err
}

// serveWith starts bench/cmd/hello serving the hello app through
// gatewayd.ServeWith on protocol at addr, with the daemon's common config
// (metrics on, access log off): the path a library user runs.
//
// The returned function, called once the scenario's runs are done, adds
// the server's memory to the report.
func (h *harness) serveWith(ctx context.Context, protocol, addr string) (func(), error) {
	return h.serveWithAs(ctx, protocol, "gatewayd.ServeWith, "+protocol, addr)
}

// serveWithAs is serveWith with the name of the server's memory row.
func (h *harness) serveWithAs(ctx context.Context, protocol, name, addr string) (func(), error) {
	common, err := gatewaydCommon()
	if err != nil {
		return nil, err
	}
	conf, err := writeFile(h.dir, "servewith-"+protocol+".yaml", common, 0o644)
	if err != nil {
		return nil, err
	}
	mode := "servewith-" + protocol
	argv := []string{h.bin("hello"), "-serve", mode, "-listen", addr, "-config", conf}
	if h.opt.profile != "" {
		argv = append(argv, "-cpuprofile", filepath.Join(h.opt.profile, "hello-"+mode+".pprof"))
	}
	p, err := h.startReady(ctx, "hello-"+mode, addr, nil, argv...)
	if err != nil {
		return nil, err
	}
	return h.watchMemory(name, p)
}

// gatewayd starts `gatewayd serve` with the YAML config and waits for addr.
func (h *harness) gatewayd(ctx context.Context, name, config, addr string) error {
	path, err := writeFile(h.dir, name+".yaml", config, 0o644)
	if err != nil {
		return err
	}
	if out, err := runBounded(ctx, readyTimeout, nil, h.bin("gatewayd"), "check", "--config", path); err != nil {
		return fmt.Errorf("gatewayd check: %w\n%s", err, out)
	}
	_, err = h.startReady(ctx, name, addr, nil, h.bin("gatewayd"), "serve", "--config", path)
	return err
}

// gatewaydCommon is appended to every config the harness gives the daemon:
// no access log (nginx runs with access_log off too) and quiet logs; the
// metrics listener stays on, on a port of its own, as in production.
func gatewaydCommon() (string, error) {
	metrics, err := freePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("log: {level: warn, access: false}\nmetrics: {address: %q}\nshutdown_timeout: 2s\n", metrics), nil
}

// phpFPM starts php-fpm8.2 with docs/recipes/php-fpm.conf (a static pool of
// workers) in dir/name and returns its socket.
func (h *harness) phpFPM(ctx context.Context, name string, workers int) (string, error) {
	dir, err := h.subdir(name)
	if err != nil {
		return "", err
	}
	socket := filepath.Join(dir, "php-fpm.sock")
	conf, err := h.recipe("php-fpm.conf", map[string]string{
		"DIR": dir, "SOCKET": socket, "WORKERS": strconv.Itoa(workers), "MAX_REQUESTS": "0",
	})
	if err != nil {
		return "", err
	}
	path, err := writeFile(dir, "php-fpm.conf", conf, 0o644)
	if err != nil {
		return "", err
	}
	_, err = h.startReady(ctx, name, "unix:"+socket, nil, "php-fpm8.2", "-F", "-R", "-y", path, "-p", dir)
	return socket, err
}

// The hello programs of the peers that are not Go: each answers exactly
// hello.Body, as text/plain with a Content-Length.
const (
	helloPy = `def application(environ, start_response):
    body = b"Hello world!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`
	helloSh = `#!/bin/sh
printf 'Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello world!\n'
`
	helloPHP = `<?php
header('Content-Type: text/plain');
header('Content-Length: 13');
echo "Hello world!\n";
`
)

// www makes the document root with the hello script, PHP page and WSGI file.
func (h *harness) www() (string, error) {
	dir, err := h.subdir("www")
	if err != nil {
		return "", err
	}
	for _, f := range []struct {
		name, content string
		mode          os.FileMode
	}{{"hello.py", helloPy, 0o644}, {"hello.sh", helloSh, 0o755}, {"hello.php", helloPHP, 0o644}} {
		if _, err := writeFile(dir, f.name, f.content, f.mode); err != nil {
			return "", err
		}
	}
	return dir, nil
}
