package cgiscript

import (
	"path/filepath"
	"testing"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestGitHTTPBackend clones from and pushes to git http-backend run by the
// Runner, mounted at /git behind the core on a net/http server: smart
// HTTP, with a push big enough (2 MiB, over git's 1 MiB postBuffer) to be
// sent chunked, so that the spool gives the backend its CONTENT_LENGTH.
func TestGitHTTPBackend(t *testing.T) {
	peertest.Need(t, "git")
	peertest.Need(t, peertest.GitHTTPBackend)
	projects := filepath.Join(t.TempDir(), "srv")
	peertest.GitBareRepo(t, projects, "repo.git")

	// The route of the docs' git example, with the projects moved.
	c, err := config.Parse(docExamples(t)[0])
	must(t, err)
	route := c.Routes[0]
	if route.Prefix != "/git" || route.Script != peertest.GitHTTPBackend || route.Env["GIT_PROJECT_ROOT"] == "" {
		t.Fatalf("the first example of docs/app-cgi.md is not the git route: %+v", route)
	}
	cfg := fromRoute(route)
	cfg.Env["GIT_PROJECT_ROOT"] = projects
	log, logs := observed(t)
	rn := newRunner(t, cfg, log)
	srv := httpFront(t, mount{route.Prefix, rn})

	peertest.GitRoundTrip(t, srv.URL+"/git/repo.git")

	spooled := logs.FilterMessage("spooled a request body without a length to a file").All()
	if len(spooled) == 0 || spooled[0].ContextMap()["bytes"].(int64) < 1<<20 {
		t.Errorf("the push was not sent chunked and spooled: %+v", spooled)
	}
	if n := logs.FilterMessage("script stderr").Len(); n != 0 {
		t.Errorf("git http-backend wrote to stderr: %v", logs.FilterMessage("script stderr").All())
	}
	// A missing repository is git's own 404 (Status without Content-Type).
	res, err := srv.Client().Get(srv.URL + "/git/nope.git/info/refs")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("missing repository: %d, want 404", res.StatusCode)
	}
}
