package conform

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// The FastCGI 1.0 suite, in the order of the specification.
var fastcgiChecks = []check{
	{"get-values", "4.1", Must, "FCGI_GET_VALUES is answered with FCGI_GET_VALUES_RESULT on request id 0", checkGetValues},
	{"get-values-all", "4.1", Should, "FCGI_GET_VALUES_RESULT names FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS", checkGetValuesAll},
	{"get-values-format", "4.1", Must, "the values are decimal, FCGI_MPXS_CONNS 0 or 1", checkGetValuesFormat},
	{"get-values-unknown-name", "4.1", Must, "a name the application does not know is left out of the answer", checkGetValuesUnknown},
	{"get-values-mid-request", "4.1", Should, "FCGI_GET_VALUES in the middle of a request is answered, and the request still runs", checkGetValuesMid},
	{"unknown-type", "4.2", Must, "an unknown management record type is answered with FCGI_UNKNOWN_TYPE naming it", checkUnknownType},
	{"responder", "6.2", Must, "a Responder request runs: STDOUT with a CGI response head, then FCGI_END_REQUEST(REQUEST_COMPLETE)", checkResponder},
	{"stdout-terminated", "3.3", Must, "the STDOUT stream ends with its empty record before FCGI_END_REQUEST", checkStdoutEnd},
	{"end-request-body", "5.5", Must, "FCGI_END_REQUEST's body is 8 bytes", checkEndBody},
	{"request-id", "3.3", Must, "every record of the answer carries the request's id (here 0x1234)", checkRequestID},
	{"aligned-records", "3.3", Should, "the application's records are padded to multiples of 8 bytes", checkAligned},
	{"padding-accepted", "3.3", Must, "records with padding (up to 255 bytes, not only to 8) are read", checkPadding},
	{"params-split-at-pairs", "3.4", Must, "a params stream of one record a pair is the same stream", checkParamsPerPair},
	{"params-split", "3.4", Must, "a params stream split across records, inside names and length fields, is the same stream", checkParamsSplit},
	{"params-long-lengths", "3.4", Must, "pairs with 4-byte lengths (a 300-byte value, a 200-byte name) are read", checkLongPairs},
	{"params-empty-value", "3.4", Must, "a pair with an empty value is read", checkEmptyValue},
	{"stdin-split", "5.3", Must, "a body split into many STDIN records, one empty, up to CONTENT_LENGTH, is read", checkStdinSplit},
	{"stdin-empty-body", "5.3", Must, "a POST with CONTENT_LENGTH 0 and only the empty STDIN record runs", checkEmptyBody},
	{"keep-conn-off", "5.1", Must, "without FCGI_KEEP_CONN the application closes the connection after FCGI_END_REQUEST", checkKeepConnOff},
	{"keep-conn-on", "5.1", Must, "with FCGI_KEEP_CONN the connection stays open and carries a second request", checkKeepConnOn},
	{"unknown-role", "5.1", Must, "a role that does not exist (99) is answered with FCGI_END_REQUEST(UNKNOWN_ROLE)", checkUnknownRole},
	{"authorizer-role", "6.3", May, "the Authorizer role: played, or refused with UNKNOWN_ROLE", checkRole(fcgiwire.RoleAuthorizer)},
	{"filter-role", "6.4", May, "the Filter role: played, or refused with UNKNOWN_ROLE", checkRole(fcgiwire.RoleFilter)},
	{"abort-request", "5.4", Must, "FCGI_ABORT_REQUEST before the body ends is answered with FCGI_END_REQUEST for that request", checkAbort},
	{"mpxs-conns-honest", "3.3", Must, "a second concurrent request on one connection is served when FCGI_MPXS_CONNS is 1, and refused with CANT_MPX_CONN (or served after) when 0", checkMultiplex},
	{"max-conns-honest", "4.1", Should, "as many connections as FCGI_MAX_CONNS advertises (up to 8) are served at once", checkMaxConns},
	{"max-reqs-honest", "4.1", Should, "as many requests on one connection as FCGI_MAX_REQS advertises (up to 8) are served, when multiplexing", checkMaxReqs},
}

func checkGetValues(ctx context.Context, s *suite) (Verdict, string) {
	r, fail := ask(ctx, s, fcgiwire.AppendGetValues(nil, fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns), "sent FCGI_GET_VALUES")
	if fail != "" {
		return Fail, fail
	}
	if r.h.Type != fcgiwire.TypeGetValuesResult || r.h.ID != 0 {
		return Fail, fmt.Sprintf("sent FCGI_GET_VALUES; got %s for request %d", r.h.Type, r.h.ID)
	}
	return Pass, valuesText(s.values)
}

func valuesText(v map[string]string) string {
	var parts []string
	for _, n := range []string{fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns} {
		if x, ok := v[n]; ok {
			parts = append(parts, n+"="+x)
		}
	}
	return strings.Join(parts, " ")
}

func checkGetValuesAll(ctx context.Context, s *suite) (Verdict, string) {
	if s.values == nil {
		return Fail, "no FCGI_GET_VALUES_RESULT"
	}
	var missing []string
	for _, n := range []string{fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns} {
		if _, ok := s.values[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return Fail, "answered " + orNone(valuesText(s.values)) + "; left out " + strings.Join(missing, ", ")
	}
	return Pass, valuesText(s.values)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func checkGetValuesFormat(ctx context.Context, s *suite) (Verdict, string) {
	if s.values == nil {
		return Fail, "no FCGI_GET_VALUES_RESULT"
	}
	for n, v := range s.values {
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return Fail, fmt.Sprintf("%s=%q is not decimal", n, v)
		}
	}
	if v, ok := s.values[fcgiwire.MpxsConns]; ok && v != "0" && v != "1" {
		return Fail, fmt.Sprintf("FCGI_MPXS_CONNS=%q", v)
	}
	return Pass, ""
}

func checkGetValuesUnknown(ctx context.Context, s *suite) (Verdict, string) {
	r, fail := ask(ctx, s, fcgiwire.AppendGetValues(nil, "GATEWAYD_NO_SUCH_VALUE", fcgiwire.MpxsConns),
		"asked for GATEWAYD_NO_SUCH_VALUE and FCGI_MPXS_CONNS")
	if fail != "" {
		return Fail, fail
	}
	if r.h.Type != fcgiwire.TypeGetValuesResult {
		return Fail, fmt.Sprintf("got %s", r.h.Type)
	}
	got := map[string]string{}
	if err := fcgiwire.DecodePairs(string(r.c), fcgiwire.Limits{}, func(n, v string) { got[n] = v }); err != nil {
		return Fail, fmt.Sprintf("the answer %s does not decode: %v", quote(r.c), err)
	}
	if _, ok := got["GATEWAYD_NO_SUCH_VALUE"]; ok {
		return Fail, fmt.Sprintf("the answer names GATEWAYD_NO_SUCH_VALUE=%q", got["GATEWAYD_NO_SUCH_VALUE"])
	}
	return Pass, ""
}

func checkGetValuesMid(ctx context.Context, s *suite) (Verdict, string) {
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn)
	b = params(b, 1, s.env, nil)
	b = fcgiwire.AppendGetValues(b, fcgiwire.MpxsConns)
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	f, a, fail := send(ctx, s, b, 1)
	if fail != "" {
		return Fail, "sent BEGIN, PARAMS, GET_VALUES, STDIN; " + fail
	}
	defer f.close()
	for _, r := range a.others {
		if r.h.Type == fcgiwire.TypeGetValuesResult {
			return Pass, ""
		}
	}
	// The answer may come after the request's.
	r, err := f.next()
	if err == nil && r.h.Type == fcgiwire.TypeGetValuesResult {
		return Pass, "answered after the request"
	}
	return Fail, fmt.Sprintf("sent BEGIN, PARAMS, GET_VALUES, STDIN; got %s and no FCGI_GET_VALUES_RESULT", a)
}

func checkUnknownType(ctx context.Context, s *suite) (Verdict, string) {
	r, fail := ask(ctx, s, fcgiwire.AppendRecord(nil, 12, 0, nil), "sent a management record of type 12")
	if fail != "" {
		return Fail, fail
	}
	t, perr := fcgiwire.ParseUnknownType(r.c)
	if r.h.Type != fcgiwire.TypeUnknownType || r.h.ID != 0 || perr != nil || t != 12 {
		return Fail, fmt.Sprintf("sent a management record of type 12; got %s#%d %s", r.h.Type, r.h.ID, quote(r.c))
	}
	return Pass, ""
}

func checkResponder(ctx context.Context, s *suite) (Verdict, string) {
	a, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, fail
	}
	code, err := a.status()
	if err != nil {
		return Fail, fmt.Sprintf("STDOUT %s is not a CGI response: %v", quote(a.stdout), err)
	}
	return Pass, fmt.Sprintf("status %d", code)
}

func checkStdoutEnd(ctx context.Context, s *suite) (Verdict, string) {
	a, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, fail
	}
	if !a.stdoutClosed {
		return Fail, "got " + a.String()
	}
	return Pass, ""
}

func checkEndBody(ctx context.Context, s *suite) (Verdict, string) {
	a, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, fail
	}
	if a.endLen != 8 {
		return Fail, fmt.Sprintf("FCGI_END_REQUEST of %d bytes", a.endLen)
	}
	return Pass, ""
}

func checkRequestID(ctx context.Context, s *suite) (Verdict, string) {
	const id = 0x1234
	f, a, fail := send(ctx, s, request(id, fcgiwire.RoleResponder, 0, s.env, nil), id)
	if fail != "" {
		return Fail, fail
	}
	defer f.close()
	if len(a.others) > 0 {
		return Fail, "records for other ids: " + a.String()
	}
	return Pass, ""
}

func checkAligned(ctx context.Context, s *suite) (Verdict, string) {
	f, a, fail := send(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, fail
	}
	defer f.close()
	if f.unaligned > 0 {
		return Fail, fmt.Sprintf("%d of %d records not padded to 8: %s", f.unaligned, len(a.records), a)
	}
	return Pass, ""
}

// padded appends a record with extra padding bytes beyond alignment.
func padded(dst []byte, t fcgiwire.Type, id uint16, content []byte, pad int) []byte {
	dst = append(dst, fcgiwire.Version1, byte(t), byte(id>>8), byte(id), byte(len(content)>>8), byte(len(content)), byte(pad), 0)
	dst = append(dst, content...)
	return append(dst, make([]byte, pad)...)
}

func checkPadding(ctx context.Context, s *suite) (Verdict, string) {
	b := padded(nil, fcgiwire.TypeBeginRequest, 1, []byte{0, 1, 0, 0, 0, 0, 0, 0}, 255)
	b = padded(b, fcgiwire.TypeParams, 1, pairsBytes(s.env), 13)
	b = padded(b, fcgiwire.TypeParams, 1, nil, 200)
	b = padded(b, fcgiwire.TypeStdin, 1, nil, 3)
	if _, fail := complete(ctx, s, b, 1); fail != "" {
		return Fail, "records padded by 255, 13, 200 and 3 bytes: " + fail
	}
	return Pass, ""
}

func checkParamsSplit(ctx context.Context, s *suite) (Verdict, string) {
	// The reference answer, then the same stream in records of 1 to 7
	// bytes, so that names, values and length fields straddle records.
	ref, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, "the unsplit request: " + fail
	}
	p := pairsBytes(withBody(s.env, nil))
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, 0)
	for i, n := 0, 1; i < len(p); i, n = i+n, n%7+1 {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeParams, 1, p[i:min(i+n, len(p))])
	}
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeParams, 1, nil)
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	a, fail := complete(ctx, s, b, 1)
	if fail != "" {
		return Fail, fmt.Sprintf("the params (%d bytes) in records of 1 to 7 bytes: %s", len(p), fail)
	}
	rc, _ := ref.status()
	ac, _ := a.status()
	if rc != ac {
		return Fail, fmt.Sprintf("status %d unsplit, %d split", rc, ac)
	}
	return Pass, ""
}

func checkParamsPerPair(ctx context.Context, s *suite) (Verdict, string) {
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, 0)
	n := 0
	for _, kv := range sortedEnv(withBody(s.env, nil)) {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeParams, 1, fcgiwire.AppendPair(nil, kv[0], kv[1]))
		n++
	}
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeParams, 1, nil)
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	if _, fail := complete(ctx, s, b, 1); fail != "" {
		return Fail, fmt.Sprintf("%d params records: %s", n, fail)
	}
	return Pass, ""
}

func checkLongPairs(ctx context.Context, s *suite) (Verdict, string) {
	env := withBody(s.env, nil)
	env["HTTP_X_GATEWAYD_LONG"] = strings.Repeat("v", 300)
	env["HTTP_X_"+strings.Repeat("N", 200)] = "x"
	if _, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, env, nil), 1); fail != "" {
		return Fail, fail
	}
	return Pass, ""
}

func checkEmptyValue(ctx context.Context, s *suite) (Verdict, string) {
	env := withBody(s.env, nil)
	env["HTTP_X_EMPTY"] = ""
	env["QUERY_STRING"] = ""
	if _, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, env, nil), 1); fail != "" {
		return Fail, fail
	}
	return Pass, ""
}

func checkStdinSplit(ctx context.Context, s *suite) (Verdict, string) {
	body := []byte(strings.Repeat("a=b&", 64))
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, 0)
	b = params(b, 1, s.env, body)
	for i, n := 0, 1; i < len(body); i, n = i+n, n*2%61+1 {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, body[i:min(i+n, len(body))])
	}
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	if _, fail := complete(ctx, s, b, 1); fail != "" {
		return Fail, fmt.Sprintf("a %d-byte body in STDIN records of 1 to 61 bytes: %s", len(body), fail)
	}
	return Pass, ""
}

func checkEmptyBody(ctx context.Context, s *suite) (Verdict, string) {
	if _, fail := complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, []byte{}), 1); fail != "" {
		return Fail, fail
	}
	return Pass, ""
}

func checkKeepConnOff(ctx context.Context, s *suite) (Verdict, string) {
	f, _, fail := send(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
	if fail != "" {
		return Fail, fail
	}
	defer f.close()
	if ok, why := f.closed(); !ok {
		return Fail, "after FCGI_END_REQUEST: " + why
	}
	return Pass, ""
}

func checkKeepConnOn(ctx context.Context, s *suite) (Verdict, string) {
	f, err := dialFCGI(ctx, s)
	if err != nil {
		return Fail, err.Error()
	}
	defer f.close()
	for i := uint16(1); i <= 2; i++ {
		if err := f.write(request(i, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn, s.env, nil)); err != nil {
			return Fail, fmt.Sprintf("request %d: %v", i, err)
		}
		a, err := f.read(i)
		if err != nil {
			return Fail, fmt.Sprintf("request %d: got %s: %v", i, a, err)
		}
		if a.end.ProtocolStatus != fcgiwire.RequestComplete {
			return Fail, fmt.Sprintf("request %d: %s", i, a.end.ProtocolStatus)
		}
	}
	return Pass, ""
}

func checkUnknownRole(ctx context.Context, s *suite) (Verdict, string) {
	return roleAnswer(ctx, s, 99, false)
}

func checkRole(role fcgiwire.Role) func(context.Context, *suite) (Verdict, string) {
	return func(ctx context.Context, s *suite) (Verdict, string) { return roleAnswer(ctx, s, role, true) }
}

// roleAnswer sends a request in role; UNKNOWN_ROLE passes, and when played
// is true so does a request that runs.
func roleAnswer(ctx context.Context, s *suite, role fcgiwire.Role, played bool) (Verdict, string) {
	env := withBody(s.env, nil)
	if role == fcgiwire.RoleAuthorizer {
		// An authorizer gets no CONTENT_LENGTH, PATH_INFO or SCRIPT_NAME.
		delete(env, "PATH_INFO")
		delete(env, "SCRIPT_NAME")
		delete(env, "PATH_TRANSLATED")
	}
	b := fcgiwire.AppendBeginRequest(nil, 1, role, 0)
	b = fcgiwire.AppendParams(b, 1, func(yield func(string, string) bool) {
		for _, kv := range sortedEnv(env) {
			if !yield(kv[0], kv[1]) {
				return
			}
		}
	})
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	if role == fcgiwire.RoleFilter {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeData, 1, nil)
	}
	f, a, fail := send(ctx, s, b, 1)
	if fail != "" {
		return Fail, fmt.Sprintf("role %d: %s", role, fail)
	}
	f.close()
	switch {
	case a.end.ProtocolStatus == fcgiwire.UnknownRole:
		return Pass, "refused: FCGI_UNKNOWN_ROLE"
	case played && a.end.ProtocolStatus == fcgiwire.RequestComplete:
		code, _ := a.status()
		return Pass, fmt.Sprintf("played: status %d", code)
	}
	return Fail, fmt.Sprintf("role %d: got %s, FCGI_END_REQUEST %s", role, a, a.end.ProtocolStatus)
}

func checkAbort(ctx context.Context, s *suite) (Verdict, string) {
	body := []byte("a=b")
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn)
	b = params(b, 1, s.env, body)
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeAbortRequest, 1, nil)
	f, a, fail := send(ctx, s, b, 1)
	if fail != "" {
		return Fail, "sent BEGIN, PARAMS, ABORT with the body still due; " + fail
	}
	f.close()
	return Pass, fmt.Sprintf("FCGI_END_REQUEST %s, appStatus %d", a.end.ProtocolStatus, a.end.AppStatus)
}

func checkMultiplex(ctx context.Context, s *suite) (Verdict, string) {
	mpx, ok := s.values[fcgiwire.MpxsConns]
	// Request 1 begins and waits for its body; request 2 comes whole;
	// then request 1's body ends.
	b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn)
	b = params(b, 1, s.env, nil)
	b = append(b, request(2, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn, s.env, nil)...)
	b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	f, err := open(ctx, s, b)
	if err != nil {
		return Fail, err.Error()
	}
	defer f.close()
	ends := map[uint16]fcgiwire.ProtocolStatus{}
	var seen []string
	for len(ends) < 2 {
		r, err := f.next()
		if err != nil {
			return Fail, fmt.Sprintf("FCGI_MPXS_CONNS=%s; two interleaved requests; got %s, then %v", orNone(mpx), strings.Join(seen, " "), describe(err))
		}
		seen = append(seen, fmt.Sprintf("%s#%d(%d)", shortType(r.h.Type), r.h.ID, r.h.ContentLength))
		if r.h.Type == fcgiwire.TypeEndRequest {
			e, _ := fcgiwire.ParseEndRequest(r.c)
			ends[r.h.ID] = e.ProtocolStatus
		}
	}
	detail := fmt.Sprintf("FCGI_MPXS_CONNS=%s; request 1 %s, request 2 %s", orNone(mpx), ends[1], ends[2])
	switch {
	case ends[1] != fcgiwire.RequestComplete:
		return Fail, detail
	case ok && mpx == "1" && ends[2] != fcgiwire.RequestComplete:
		return Fail, detail + ": it says it multiplexes"
	case ends[2] == fcgiwire.CantMpxConn || ends[2] == fcgiwire.RequestComplete:
		return Pass, detail
	}
	return Fail, detail
}

func checkMaxConns(ctx context.Context, s *suite) (Verdict, string) {
	n, err := strconv.Atoi(s.values[fcgiwire.MaxConns])
	if err != nil || n < 1 {
		return Fail, "FCGI_MAX_CONNS not advertised"
	}
	m := min(n, 8)
	var wg sync.WaitGroup
	fails := make([]string, m)
	for i := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, fails[i] = complete(ctx, s, request(1, fcgiwire.RoleResponder, 0, s.env, nil), 1)
		}()
	}
	wg.Wait()
	return allServed(fmt.Sprintf("FCGI_MAX_CONNS=%d; %d connections at once", n, m), fails)
}

func allServed(what string, fails []string) (Verdict, string) {
	bad := 0
	first := ""
	for _, f := range fails {
		if f != "" {
			if bad == 0 {
				first = f
			}
			bad++
		}
	}
	if bad > 0 {
		return Fail, fmt.Sprintf("%s: %d not served, the first: %s", what, bad, first)
	}
	return Pass, what + ": all served"
}

func checkMaxReqs(ctx context.Context, s *suite) (Verdict, string) {
	if s.values[fcgiwire.MpxsConns] != "1" {
		return Pass, "does not multiplex (FCGI_MPXS_CONNS=" + orNone(s.values[fcgiwire.MpxsConns]) + ")"
	}
	n, err := strconv.Atoi(s.values[fcgiwire.MaxReqs])
	if err != nil || n < 1 {
		return Fail, "multiplexes but FCGI_MAX_REQS not advertised"
	}
	m := min(n, 8)
	var b []byte
	for i := 1; i <= m; i++ {
		b = append(b, request(uint16(i), fcgiwire.RoleResponder, fcgiwire.FlagKeepConn, s.env, nil)...)
	}
	f, err := open(ctx, s, b)
	if err != nil {
		return Fail, err.Error()
	}
	defer f.close()
	fails := make([]string, m)
	done := 0
	for done < m {
		r, err := f.next()
		if err != nil {
			return Fail, fmt.Sprintf("FCGI_MAX_REQS=%d; %d requests on one connection; %d ended, then %v", n, m, done, describe(err))
		}
		if r.h.Type == fcgiwire.TypeEndRequest && int(r.h.ID) >= 1 && int(r.h.ID) <= m {
			e, _ := fcgiwire.ParseEndRequest(r.c)
			if e.ProtocolStatus != fcgiwire.RequestComplete {
				fails[r.h.ID-1] = e.ProtocolStatus.String()
			}
			done++
		}
	}
	return allServed(fmt.Sprintf("FCGI_MAX_REQS=%d; %d requests on one connection", n, m), fails)
}
