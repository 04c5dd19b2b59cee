// Package test renders the chart in deploy/helm/gatewayd for each documented
// values file with helm (run from its Go module at the version pinned in this
// module's go.mod, `go tool helm`) and holds the output to the Kubernetes API:
// every object decodes strictly (an unknown or duplicated field is an error)
// into the types of the pinned k8s.io/api and prometheus-operator modules; the
// PrometheusRule passes promtool; the rendered gatewayd config passes
// `gatewayd check`; the pod is shaped for draining and locked down.
//
// This is a module of its own so that the main module does not depend on
// Kubernetes. .ci/run runs it: (cd deploy/helm/test && go test ./...).
package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

func chartDir() string { return filepath.Join(peertest.ModuleRoot(), "deploy", "helm", "gatewayd") }

// valuesFiles are the documented values: the defaults and the examples in ci/.
func valuesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(), "ci", "*-values.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("values files in ci/: %v %v", files, err)
	}
	return append([]string{filepath.Join(chartDir(), "values.yaml")}, files...)
}

// kubeVersion is the oldest Kubernetes the chart supports (Chart.yaml's
// kubeVersion; the preStop sleep action needs 1.30). helm built from its
// module without release ldflags would assume 1.20.
const kubeVersion = "1.30.0"

// helm runs the pinned helm with a home of its own.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command("go", append([]string{"tool", "helm"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

// Rendered is one values file's objects, decoded.
type Rendered struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	PDB        *policyv1.PodDisruptionBudget
	HPA        *autoscalingv2.HorizontalPodAutoscaler
	ServiceMon *monitoringv1.ServiceMonitor
	PodMon     *monitoringv1.PodMonitor
	Rule       *monitoringv1.PrometheusRule
	Kinds      []string
	ValuesFile string
	Manifests  string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// render runs helm template and decodes every object strictly.
func render(t *testing.T, values string, extra ...string) *Rendered {
	t.Helper()
	out, err := helm(t, append([]string{"template", "web", chartDir(), "--kube-version", kubeVersion, "-f", values}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rendered{ConfigMaps: map[string]*corev1.ConfigMap{}, ValuesFile: values, Manifests: out}
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: %v\n%s", values, err, doc)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "apps/v1 Deployment":
			r.Deployment = &appsv1.Deployment{}
			obj = r.Deployment
		case "v1 Service":
			r.Service = &corev1.Service{}
			obj = r.Service
		case "policy/v1 PodDisruptionBudget":
			r.PDB = &policyv1.PodDisruptionBudget{}
			obj = r.PDB
		case "autoscaling/v2 HorizontalPodAutoscaler":
			r.HPA = &autoscalingv2.HorizontalPodAutoscaler{}
			obj = r.HPA
		case "monitoring.coreos.com/v1 ServiceMonitor":
			r.ServiceMon = &monitoringv1.ServiceMonitor{}
			obj = r.ServiceMon
		case "monitoring.coreos.com/v1 PodMonitor":
			r.PodMon = &monitoringv1.PodMonitor{}
			obj = r.PodMon
		case "monitoring.coreos.com/v1 PrometheusRule":
			r.Rule = &monitoringv1.PrometheusRule{}
			obj = r.Rule
		default:
			t.Fatalf("%s: an object this test does not know: %s %s", values, head.APIVersion, head.Kind)
		}
		// Strict: a field the API type lacks (a typo, a misplaced key) is
		// an error here, where a cluster would drop it or refuse it.
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v\n%s", filepath.Base(values), head.APIVersion, head.Kind, err, doc)
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			r.ConfigMaps[cm.Name] = cm
		}
		r.Kinds = append(r.Kinds, head.Kind)
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestLint(t *testing.T) {
	for _, v := range valuesFiles(t) {
		if out, err := helm(t, "lint", "--strict", "--kube-version", kubeVersion, chartDir(), "-f", v); err != nil {
			t.Errorf("%s: %v\n%s", filepath.Base(v), err, out)
		}
	}
}

func TestRenderedObjects(t *testing.T) {
	gatewayd := peertest.Gatewayd(t)
	promtool := peertest.Need(t, "promtool")
	for _, v := range valuesFiles(t) {
		t.Run(filepath.Base(v), func(t *testing.T) {
			r := render(t, v)
			if r.Deployment == nil || r.Service == nil || r.ConfigMaps["web-gatewayd"] == nil {
				t.Fatalf("rendered %v; want a Deployment, a Service and the ConfigMap web-gatewayd", r.Kinds)
			}
			if filepath.Base(v) == "front-door-values.yaml" && (r.Rule == nil || r.ServiceMon == nil || r.HPA == nil ||
				r.PDB == nil || r.ConfigMaps["web-gatewayd-dashboard"] == nil) {
				t.Errorf("front-door-values.yaml enables the PrometheusRule, ServiceMonitor, HPA, PDB and dashboard; rendered %v", r.Kinds)
			}
			if filepath.Base(v) == "front-door-values.yaml" &&
				!regexp.MustCompile(`upstreams:\n\s*- dns:php-fpm-headless\.web\.svc\.cluster\.local:9000\n`).MatchString(r.ConfigMaps["web-gatewayd"].Data["gatewayd.yaml"]) {
				t.Errorf("front-door-values.yaml's dns: upstream is not rendered as a fleet (upstreams):\n%s", r.ConfigMaps["web-gatewayd"].Data["gatewayd.yaml"])
			}
			if filepath.Base(v) == "sidecar-values.yaml" && (r.PodMon == nil || r.PodMon.Spec.JobLabel != "app.kubernetes.io/name") {
				t.Errorf("sidecar-values.yaml enables a PodMonitor whose job is \"gatewayd\"; rendered %v", r.Kinds)
			}
			checkPod(t, r)
			checkConfig(t, gatewayd, r)
			if r.Rule != nil {
				checkRules(t, promtool, r.Rule)
			}
			if r.ServiceMon != nil && r.ServiceMon.Spec.JobLabel != "app.kubernetes.io/name" {
				t.Errorf("the ServiceMonitor's job is not \"gatewayd\", which the alerts select")
			}
		})
	}
}

// checkPod: probes on the endpoints gatewayd answers, draining time, and
// the security context the issue asks for.
func checkPod(t *testing.T, r *Rendered) {
	t.Helper()
	spec := r.Deployment.Spec.Template.Spec
	gw := spec.Containers[0]
	if gw.Name != "gatewayd" {
		t.Fatalf("first container %q", gw.Name)
	}
	for name, p := range map[string]*corev1.Probe{"startup": gw.StartupProbe, "liveness": gw.LivenessProbe, "readiness": gw.ReadinessProbe} {
		want := "/healthz"
		if name == "readiness" {
			want = "/readyz"
		}
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe: %+v, want GET %s on the metrics port", name, p, want)
		}
	}
	if gw.Lifecycle == nil || gw.Lifecycle.PreStop == nil || gw.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep")
	}
	shutdown := shutdownSeconds(t, r)
	preStop := gw.Lifecycle.PreStop.Sleep.Seconds
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= shutdown+preStop {
		t.Errorf("terminationGracePeriodSeconds %v is not above shutdown_timeout %ds + preStop %ds", g, shutdown, preStop)
	}
	// In a sidecar pod the app must outlive gatewayd's drain, or the
	// requests gatewayd finishes find no app behind the socket.
	for _, c := range spec.Containers[1:] {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil ||
			c.Lifecycle.PreStop.Sleep.Seconds < preStop+shutdown || c.Lifecycle.PreStop.Sleep.Seconds >= *spec.TerminationGracePeriodSeconds {
			t.Errorf("app container %s: preStop %+v; want a sleep of at least preStop+shutdown_timeout (%ds), below the grace period", c.Name, c.Lifecycle, preStop+shutdown)
		}
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: %+v", psc)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container %s securityContext: %+v", c.Name, sc)
		}
	}
	ports := map[string]int32{}
	for _, p := range gw.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] == 0 || ports["metrics"] == 0 {
		t.Errorf("container ports %v", ports)
	}
	if r.PDB == nil && *r.Deployment.Spec.Replicas > 1 {
		t.Error("more than one replica and no PodDisruptionBudget")
	}
}

func shutdownSeconds(t *testing.T, r *Rendered) int64 {
	t.Helper()
	var cfg struct {
		ShutdownTimeout string `json:"shutdown_timeout"`
	}
	if err := yaml.Unmarshal([]byte(r.ConfigMaps["web-gatewayd"].Data["gatewayd.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	var s int64
	if _, err := fmt.Sscanf(cfg.ShutdownTimeout, "%ds", &s); err != nil {
		t.Fatalf("shutdown_timeout %q: %v", cfg.ShutdownTimeout, err)
	}
	return s
}

// checkConfig runs gatewayd check on every config file (*.yaml) of the
// ConfigMap. check opens each route's root, a path inside the pod: the
// test makes it under a directory of its own and points the route there,
// and changes nothing else.
func checkConfig(t *testing.T, gatewayd string, r *Rendered) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range r.ConfigMaps["web-gatewayd"].Data {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		routes, _ := cfg["routes"].([]any)
		for _, rt := range routes {
			route, _ := rt.(map[string]any)
			if root, ok := route["root"].(string); ok {
				local := filepath.Join(dir, "pod", root)
				if err := os.MkdirAll(local, 0o755); err != nil {
					t.Fatal(err)
				}
				route["root"] = local
			}
		}
		b, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		p := peertest.WriteFile(t, dir, name, text)
		if out, err := exec.Command(gatewayd, "check", "--config", p).CombinedOutput(); err != nil {
			t.Errorf("gatewayd check %s: %v\n%s\n%s", name, err, out, text)
		}
	}
}

// checkRules: the rule groups promtool accepts, and exactly the ones of
// deploy/prometheus/alerts.yml.
func checkRules(t *testing.T, promtool string, rule *monitoringv1.PrometheusRule) {
	t.Helper()
	b, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	p := peertest.WriteFile(t, t.TempDir(), "rules.yml", string(b))
	if out, err := exec.Command(promtool, "check", "rules", p).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	orig, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var want monitoringv1.PrometheusRuleSpec
	if err := yaml.Unmarshal(orig, &want); err != nil {
		t.Fatal(err)
	}
	got, _ := yaml.Marshal(rule.Spec)
	wantB, _ := yaml.Marshal(want)
	if !bytes.Equal(got, wantB) {
		t.Errorf("the PrometheusRule differs from deploy/prometheus/alerts.yml:\n%s\nwant:\n%s", got, wantB)
	}
}

// A wrong topology is refused at render time with a message naming it.
func TestBadTopologyIsRefused(t *testing.T) {
	out, err := helm(t, "template", "web", chartDir(), "--kube-version", kubeVersion, "--set", "topology=sidecars")
	if err == nil || !strings.Contains(err.Error(), `topology "sidecars": sidecar or front-door`) {
		t.Errorf("err %v\n%s", err, out)
	}
}
