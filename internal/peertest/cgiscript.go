package peertest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GitHTTPBackend is where Debian installs git's CGI program.
const GitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitBareRepo creates the bare repository projects/name (e.g. "repo.git")
// with branch main, accepting anonymous pushes (http.receivepack), for
// git http-backend with GIT_PROJECT_ROOT=projects. It returns its path.
func GitBareRepo(t testing.TB, projects, name string) string {
	t.Helper()
	git := Need(t, "git")
	repo := filepath.Join(projects, name)
	gitRun(t, git, t.TempDir(), "init", "-q", "--bare", "-b", "main", repo)
	gitRun(t, git, repo, "config", "http.receivepack", "true")
	return repo
}

// GitRoundTrip drives a git client against the smart-HTTP repository at
// url (an empty one, as GitBareRepo makes): it clones it, commits a README
// and a 2 MiB file of random bytes (so that the push is over git's 1 MiB
// postBuffer and is sent chunked), pushes, clones again and checks that the
// second clone has the same commit and bytes. The test fails otherwise.
// Every git command is bounded to 60 s.
func GitRoundTrip(t testing.TB, url string) {
	t.Helper()
	git := Need(t, "git")
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gitRun(t, git, dir, "clone", "-q", url, work)
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("hello through gatewayd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(work, "random.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, git, work, "add", "README", "random.bin")
	gitRun(t, git, work, "commit", "-q", "-m", "first")
	gitRun(t, git, work, "push", "-q", "origin", "main")
	head := strings.TrimSpace(gitRun(t, git, work, "rev-parse", "HEAD"))

	again := filepath.Join(dir, "again")
	gitRun(t, git, dir, "clone", "-q", url, again)
	if got := strings.TrimSpace(gitRun(t, git, again, "rev-parse", "HEAD")); got != head {
		t.Errorf("git: cloned HEAD %s, pushed %s", got, head)
	}
	if b, err := os.ReadFile(filepath.Join(again, "random.bin")); err != nil || !bytes.Equal(b, big) {
		t.Errorf("git: random.bin did not survive the round trip (%v)", err)
	}
}

// gitRun runs git in wd with a clean, private configuration and returns
// its output; the test fails if git fails or runs for more than 60 s.
func gitRun(t testing.TB, git, wd string, args ...string) string {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(git, args...)
	cmd.Dir = wd
	cmd.Env = []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "NO_PROXY=*", "no_proxy=*",
		"GIT_AUTHOR_NAME=gatewayd", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=gatewayd", "GIT_COMMITTER_EMAIL=test@example.com",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("git %v: still running after 60s\n%s", args, out.String())
	}
	return out.String()
}
