package fcgiupstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// checkLoop probes every address of the fleet every interval, besides the
// passive health that requests give: FCGI_GET_VALUES when probe is nil,
// else the request probe encodes (a GET of the configured path), which must
// answer below 500.
func (f *fleet) checkLoop(interval time.Duration, probe []byte) {
	defer close(f.checkDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		members := append([]*member(nil), f.members...)
		f.mu.Unlock()
		for _, m := range members {
			f.check(m, interval, probe)
		}
	}
}

// check probes m once on a connection of its own, within its max_conns: an
// address whose connections are all busy is not probed (its requests tell).
func (f *fleet) check(m *member, interval time.Duration, probe []byte) {
	f.mu.Lock()
	if m.draining || !m.p.tryToken() {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	err := f.probe(m, min(interval, f.cfg.ioTimeout), probe)
	m.p.release()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		m.failures, m.downUntil = 0, time.Time{}
	} else if !time.Now().Before(m.downUntil) {
		m.failures++
		m.downUntil = time.Now().Add(min(backoffMin<<min(m.failures-1, 10), backoffMax))
	}
	m.p.setHealth(err == nil)
	f.notify()
}

func (f *fleet) probe(m *member, timeout time.Duration, probe []byte) error {
	d := net.Dialer{Timeout: f.cfg.connectTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.connectTimeout)
	nc, err := d.DialContext(ctx, m.p.network, m.p.address)
	cancel()
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(timeout))
	req := probe
	if req == nil {
		req = fcgiwire.AppendGetValues(nil, fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns)
	}
	if _, err := nc.Write(req); err != nil {
		return err
	}
	rr := fcgiwire.NewReader(bufio.NewReaderSize(nc, 4<<10))
	var head []byte
	for {
		h, content, err := rr.Next()
		if err != nil {
			return err
		}
		switch {
		case probe == nil && h.Type == fcgiwire.TypeGetValuesResult:
			return nil
		case probe == nil:
			return fmt.Errorf("%w: %v to FCGI_GET_VALUES", ErrProtocol, h.Type)
		case h.Type == fcgiwire.TypeStdout && len(head) < maxHeadBytes:
			head = append(head, content...)
		case h.Type == fcgiwire.TypeEndRequest:
			end := cgiresp.HeadEnd(head)
			if end < 0 {
				return fmt.Errorf("%w: no response head", ErrProtocol)
			}
			hd, err := cgiresp.Parse(head[:end])
			if err != nil {
				return err
			}
			if hd.Status >= 500 {
				return fmt.Errorf("health check answered %d", hd.Status)
			}
			return nil
		}
	}
}

// ErrHealthPath is a health_check path that names no script.
var ErrHealthPath = errors.New("fcgiupstream: the health check path must name a script under root")

// healthProbe encodes the GET of path that the health checks send, once:
// the script is resolved now, the connection is closed after the answer.
func (u *Upstream) healthProbe(path string) ([]byte, error) {
	t := u.resolve(path)
	if t.status != 0 {
		return nil, fmt.Errorf("%w: %q (%d)", ErrHealthPath, path, t.status)
	}
	env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "gatewayd-health-check"}
	ps := u.paramSet(env, t)
	b := fcgiwire.AppendBeginRequest(nil, requestID, fcgiwire.RoleResponder, 0)
	b, mark := fcgiwire.OpenStream(b)
	b = ps.Append(b)
	b = fcgiwire.CloseStream(b, mark, fcgiwire.TypeParams, requestID)
	return fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, requestID, nil), nil
}
