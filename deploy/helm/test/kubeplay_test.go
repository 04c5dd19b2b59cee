package test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestSidecarUnderPodmanKubePlay runs the rendered sidecar Deployment (and
// its ConfigMap) with `podman kube play`: gatewayd's image in front, and the
// same image serving the demo over FastCGI on the socket in the shared
// emptyDir behind it. From inside the pod's network namespace a request
// through gatewayd reaches the app, and the probes' paths and ports answer.
// Then gatewayd gets SIGTERM while a request is in flight: /readyz fails
// while the process still runs, and the request completes.
//
// podman runs no preStop hooks, so the test stops gatewayd's container
// first, which is the order the app's preStop sleep gives on Kubernetes.
func TestSidecarUnderPodmanKubePlay(t *testing.T) {
	p := peertest.NewPodman(t)
	curl := peertest.Need(t, "curl")
	nsenter := peertest.Need(t, "nsenter")
	image := peertest.GatewaydImage(t, p)
	tag := image[strings.LastIndexByte(image, ':')+1:]
	release := peertest.RandomName("kp")

	out, err := helm(t, "template", release, chartDir(), "--kube-version", kubeVersion, "-f", filepath.Join(chartDir(), "ci", "sidecar-values.yaml"),
		"--set", "image.tag="+tag, "--set", "sidecar.app.image="+image,
		"--set", "shutdownTimeoutSeconds=20", "--set", "preStopSeconds=1")
	if err != nil {
		t.Fatal(err)
	}
	// podman plays Deployments and ConfigMaps; the Service is left out.
	// Podman 4 publishes every containerPort on the host, on all addresses
	// and on the same port number: the test pins them to loopback and free
	// ports, and changes nothing else.
	var docs []string
	var dep appsv1.Deployment
	for _, doc := range docSep.Split(out, -1) {
		switch {
		case strings.Contains(doc, "\nkind: ConfigMap\n"):
			docs = append(docs, doc)
		case strings.Contains(doc, "\nkind: Deployment\n"):
			if err := yaml.Unmarshal([]byte(doc), &dep); err != nil {
				t.Fatal(err)
			}
			for _, c := range dep.Spec.Template.Spec.Containers {
				for i := range c.Ports {
					_, port, _ := strings.Cut(peertest.FreeAddr(t), ":")
					n, _ := strconv.Atoi(port)
					c.Ports[i].HostIP, c.Ports[i].HostPort = "127.0.0.1", int32(n)
				}
			}
			b, err := yaml.Marshal(&dep)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(b))
		}
	}
	manifest := peertest.WriteFile(t, t.TempDir(), "pod.yaml", strings.Join(docs, "\n---\n"))
	if out, err := p.Cmd("kube", "play", manifest).CombinedOutput(); err != nil {
		t.Fatalf("podman kube play: %v\n%s", err, out)
	}
	pod := dep.Name + "-pod-0"
	front := pod + "-gatewayd"
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{front, pod + "-" + dep.Spec.Template.Spec.Containers[1].Name} {
				logs, _ := p.Cmd("logs", c).CombinedOutput()
				t.Logf("%s:\n%s", c, logs)
			}
		}
		_ = p.Cmd("kube", "down", manifest).Run()
		_ = p.Cmd("pod", "rm", "-f", pod).Run()
		// Podman 4 keeps a ConfigMap volume as a named volume.
		_ = p.Cmd("volume", "rm", "-f", dep.Spec.Template.Spec.Volumes[0].ConfigMap.Name).Run()
	})
	infra := p.Run(t, "pod", "inspect", "--format", "{{.InfraContainerID}}", pod)
	pid := p.Run(t, "inspect", "--format", "{{.State.Pid}}", infra)

	// inPod runs curl in the pod's network namespace.
	inPod := func(args ...string) *exec.Cmd {
		return exec.Command(nsenter, append([]string{"-t", pid, "-n", curl, "-sS", "--max-time", "30"}, args...)...)
	}
	get := func(url string) (int, string, error) {
		out, err := inPod("-w", "\n%{http_code}", url).Output()
		if err != nil {
			return 0, "", fmt.Errorf("curl %s: %w", url, err)
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		code, _ := strconv.Atoi(s[i+1:])
		return code, s[:i], nil
	}

	// The probes, at the paths and ports the Deployment names.
	gw := dep.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, cp := range gw.Ports {
		ports[cp.Name] = cp.ContainerPort
	}
	probeURL := func(path string, port string) string {
		return fmt.Sprintf("http://127.0.0.1:%d%s", ports[port], path)
	}
	ready := probeURL(gw.ReadinessProbe.HTTPGet.Path, gw.ReadinessProbe.HTTPGet.Port.String())
	peertest.WaitReady(t, nil, "readiness "+ready, func() error {
		code, body, err := get(ready)
		if err == nil && code != 200 {
			err = fmt.Errorf("%d %s", code, body)
		}
		return err
	})
	for name, probe := range map[string]string{
		"liveness": probeURL(gw.LivenessProbe.HTTPGet.Path, gw.LivenessProbe.HTTPGet.Port.String()),
		"startup":  probeURL(gw.StartupProbe.HTTPGet.Path, gw.StartupProbe.HTTPGet.Port.String()),
	} {
		if code, body, err := get(probe); err != nil || code != 200 {
			t.Errorf("%s probe %s: %d %q %v", name, probe, code, body, err)
		}
	}

	// Through gatewayd, over the socket, to the app: the demo lists what
	// gatewayd's FastCGI client sent it.
	site := fmt.Sprintf("http://127.0.0.1:%d", ports["http"])
	code, body, err := get(site + "/?via=gatewayd")
	if err != nil || code != 200 || !strings.Contains(body, "\nSCRIPT_FILENAME=/srv/app/index.php\n") ||
		!strings.Contains(body, "\nFCGI_ROLE=RESPONDER\n") || !strings.Contains(body, "\nQUERY_STRING=via=gatewayd\n") {
		t.Fatalf("GET / through gatewayd: %d %v\n%s", code, err, body)
	}

	// A request in flight: a chunked body that is not finished yet (gatewayd
	// spools a body of unknown length before it forwards it).
	slow := inPod("-T", "-", "-H", "Transfer-Encoding: chunked", "-w", "\n%{http_code}", site+"/?slow=1")
	stdin, err := slow.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var slowOut, slowErr strings.Builder
	slow.Stdout, slow.Stderr = &slowOut, &slowErr
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	defer slow.Process.Kill()
	io.WriteString(stdin, "first half\n")
	inFlight := regexp.MustCompile(`(?m)^gatewayd_requests_in_flight\{[^}]*protocol="http"[^}]*\} 1$`)
	peertest.WaitReady(t, nil, "the slow request in flight", func() error {
		_, metrics, err := get(probeURL("/metrics", "metrics"))
		if err == nil && !inFlight.MatchString(metrics) {
			err = fmt.Errorf("not in flight yet")
		}
		return err
	})

	// SIGTERM (the image's STOPSIGNAL) to gatewayd, with a grace longer
	// than its shutdown_timeout. Podman calls a container that is stopping
	// not running: whether gatewayd still runs is asked of its process.
	gwPid := p.Run(t, "inspect", "--format", "{{.State.Pid}}", front)
	stop := p.Cmd("stop", "-t", strconv.Itoa(int(*dep.Spec.Template.Spec.TerminationGracePeriodSeconds)), front)
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	peertest.WaitReady(t, nil, "readiness to fail after SIGTERM", func() error {
		code, _, err := get(ready)
		if err == nil && code != 503 {
			err = fmt.Errorf("/readyz %d", code)
		}
		return err
	})
	if st, err := os.ReadFile("/proc/" + gwPid + "/stat"); err != nil || strings.Contains(string(st), ") Z ") {
		t.Fatalf("gatewayd exited before its in-flight request was done: %v %s; the request: %s %s", err, st, slowOut.String(), slowErr.String())
	}
	io.WriteString(stdin, "second half\n")
	stdin.Close()
	if err := slow.Wait(); err != nil {
		t.Fatalf("the in-flight request: %v\n%s%s", err, slowOut.String(), slowErr.String())
	}
	if s := slowOut.String(); !strings.HasSuffix(s, "\n200") || !strings.Contains(s, "\nQUERY_STRING=slow=1\n") {
		t.Errorf("the in-flight request did not complete:\n%s", s)
	}
	if err := stop.Wait(); err != nil {
		t.Errorf("podman stop: %v", err)
	}
	if code := p.Run(t, "inspect", "--format", "{{.State.ExitCode}}", front); code != "0" {
		t.Errorf("gatewayd's exit code after SIGTERM: %s", code)
	}
}
