package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// Path is where the daemon serves the page, on the metrics listener.
const Path = "/status"

// RefreshSeconds is how often the HTML page reloads itself.
const RefreshSeconds = 5

// Handler serves the page: HTML for people, or JSON with ?format=json.
// It never waits on an app or a pool lock, so it answers while every app
// is stuck.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		snap := r.Snapshot()
		var buf bytes.Buffer
		h := w.Header()
		switch req.URL.Query().Get("format") {
		case "json":
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(snap); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h.Set("Content-Type", "application/json")
		case "", "html":
			if err := page.Execute(&buf, snap); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
		default:
			http.Error(w, `format: "html" or "json"`, http.StatusBadRequest)
			return
		}
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// Nothing on the page comes from elsewhere, and nothing runs.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(buf.Bytes())
	})
}

// age writes a duration in seconds the way a person reads it.
func age(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Truncate(time.Second).String()
}

func optAge(p *float64) string {
	if p == nil {
		return "–"
	}
	return age(*p)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Format("2006-01-02 15:04:05Z")
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"age": age, "optage": optAge, "stamp": stamp, "refresh": func() int { return RefreshSeconds },
	"class": func(m map[string]uint64, c string) uint64 { return m[c] },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{refresh}}">
<title>gatewayd status</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#111}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #bbb;padding:.2em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eee}
.down,.full{color:#a00;font-weight:bold}
caption{text-align:left;font-weight:bold;padding:.3em 0}
#requests{font-size:90%}
#requests td:first-child{white-space:nowrap}
td.w{max-width:22em;overflow-wrap:anywhere}
</style>
</head>
<body>
<h1>gatewayd status</h1>
<p id="about">version <b>{{.Version}}</b> ({{.GoVersion}}), pid {{.PID}}, up <span id="uptime">{{age .UptimeSeconds}}</span> since {{stamp .Started}}.<br>
config <code>{{if .Config.File}}{{.Config.File}}{{else}}(defaults){{end}}</code> loaded {{stamp .Config.Loaded}}, {{.Config.Reloads}} reloads{{if .Config.LastReloadError}}; <span class="down">last reload failed: {{.Config.LastReloadError}}</span>{{end}}.<br>
<span id="inflight">{{.InFlight}}</span> requests in flight; slow log {{if .SlowRequestSeconds}}at {{age .SlowRequestSeconds}}{{else}}off{{end}}; taken {{stamp .Now}}, refreshes every {{refresh}}s.</p>

<table id="listeners">
<caption>Listeners</caption>
<tr><th>name</th><th>protocol</th><th>address</th><th>connections</th><th>in flight</th><th>requests</th></tr>
{{range .Listeners}}<tr><td>{{.Name}}</td><td>{{.Protocol}}</td><td>{{.Address}}</td><td class="n">{{.Connections}}</td><td class="n">{{.InFlight}}</td><td class="n">{{.Requests}}</td></tr>
{{end}}</table>

<table id="routes">
<caption>Routes</caption>
<tr><th>prefix</th><th>app</th><th>in flight</th><th>pool busy / limit</th><th>waiting / queue</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th></tr>
{{range .Routes}}<tr id="route-{{.Prefix}}"><td>{{.Prefix}}</td><td>{{.App}}</td><td class="n">{{.InFlight}}</td>
{{- with .Pool}}<td class="n{{if ge .Busy .Limit}} full{{end}}">{{.Busy}} / {{.Limit}}</td><td class="n">{{.Waiting}} / {{.QueueSize}}</td>{{else}}<td>–</td><td>–</td>{{end -}}
<td class="n">{{class .Requests "2xx"}}</td><td class="n">{{class .Requests "3xx"}}</td><td class="n">{{class .Requests "4xx"}}</td><td class="n">{{class .Requests "5xx"}}</td></tr>
{{end}}</table>

{{if .Upstreams}}<table id="upstreams">
<caption>Upstreams</caption>
<tr><th>route</th><th>address</th><th>in use / max_conns</th><th>waiting</th><th>health</th><th>last error</th></tr>
{{range .Upstreams}}<tr><td>{{.Route}}</td><td>{{.Address}}</td><td class="n{{if ge .InUse .MaxConns}} full{{end}}">{{.InUse}} / {{.MaxConns}}</td><td class="n">{{.Waiting}}</td><td{{if eq .Health "down"}} class="down"{{end}}>{{.Health}}</td><td>{{with .LastErrorAt}}{{stamp .}}: {{end}}{{.LastError}}</td></tr>
{{end}}</table>
{{end}}
<table id="requests">
<caption>Oldest requests in flight (at most 50 of {{.InFlight}})</caption>
<tr><th>id</th><th>listener</th><th>method</th><th>path</th><th>route</th><th>age</th><th>phase</th><th>script / upstream</th><th>pid</th><th>queue wait</th><th>connect</th><th>first byte</th><th>bytes in</th><th>bytes out</th></tr>
{{range .Requests}}<tr class="request" id="req-{{.ID}}"><td>{{.ID}}</td><td>{{.Listener}}</td><td>{{.Method}}</td><td>{{.Path}}</td><td>{{.Route}}</td><td class="n age">{{age .AgeSeconds}}</td><td>{{.Phase}}</td><td class="w">{{if .Script}}{{.Script}}{{else}}{{.Upstream}}{{end}}</td><td class="n">{{if .PID}}{{.PID}}{{end}}</td><td class="n">{{optage .QueueWaitSeconds}}</td><td class="n">{{optage .ConnectSeconds}}</td><td class="n">{{optage .FirstByteSeconds}}</td><td class="n">{{.BytesIn}}</td><td class="n">{{.BytesOut}}</td></tr>
{{else}}<tr><td colspan="14">none</td></tr>
{{end}}</table>
</body>
</html>
`))
