package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDeploy copies deploy/'s compose file and manifests into a temporary
// tree, with one mutation applied, so each test proves the check catches
// one kind of mistake in the real files.
func copyDeploy(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"docker-compose.yaml", "kubernetes/kustomization.yaml", "kubernetes/namespace.yaml",
		"kubernetes/config.yaml", "kubernetes/secret.example.yaml", "kubernetes/api.yaml", "kubernetes/worker.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if f == file {
			if !strings.Contains(s, old) {
				t.Fatalf("%s does not contain %q", f, old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func requireProblem(t *testing.T, problems []string, want string) {
	t.Helper()
	for _, p := range problems {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Fatalf("no problem mentions %q; got %q", want, problems)
}

func TestTheRealFilesPass(t *testing.T) {
	if p := checkCompose(context.Background(), "../docker-compose.yaml"); len(p) > 0 {
		t.Fatal(p)
	}
	if p := checkKubernetes("../kubernetes"); len(p) > 0 {
		t.Fatal(p)
	}
}

func TestComposeMistakes(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown key", "stop_grace_period: 30s", "stop_grace_periodd: 30s", "stop_grace_periodd"},
		{"wrong type", "retries: 3", "retries: three", "retries"},
		{"undefined dependency", "temporal-setup:\n        condition: service_completed_successfully\n    environment:\n      <<: *hookflow-env",
			"temporal-setupp:\n        condition: service_completed_successfully\n    environment:\n      <<: *hookflow-env", "temporal-setupp"},
		{"published on every interface", `"127.0.0.1:8080:8080"`, `"8080:8080"`, "publish on 127.0.0.1 only"},
		{"no healthcheck", `    healthcheck:
      test: ["CMD", "/usr/local/bin/hookflow", "probe", "http://127.0.0.1:9090/readyz"]
      interval: 10s
      timeout: 5s
      retries: 3
`, "", "hookflow-worker: needs a healthcheck"},
		{"registry image in the default profile", "    profiles: [ui]\n", "", "temporal-ui: image \"temporalio/ui:2.54.1\" is not built by make images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDeploy(t, "docker-compose.yaml", tc.old, tc.new)
			requireProblem(t, checkCompose(context.Background(), filepath.Join(dir, "docker-compose.yaml")), tc.want)
		})
	}
}

func TestKubernetesMistakes(t *testing.T) {
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"unknown field", "kubernetes/api.yaml", "image: hookflow", "imag: hookflow", `unknown field "spec.template.spec.containers[0].imag"`},
		{"wrong type", "kubernetes/api.yaml", "containerPort: 8080", `containerPort: "eighty"`, "containerPort"},
		{"probe on an undeclared port", "kubernetes/worker.yaml", "path: /readyz\n              port: metrics", "path: /readyz\n              port: web", "readinessProbe.httpGet.port web"},
		{"service selects nothing", "kubernetes/api.yaml", "  selector:\n    app.kubernetes.io/name: hookflow-api\n  ports:", "  selector:\n    app.kubernetes.io/name: hookflow-apii\n  ports:", "selects no Deployment"},
		{"grace period shorter than the drain", "kubernetes/api.yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 20", "does not outlast"},
		{"missing secret key", "kubernetes/api.yaml", "key: HOOKFLOW_STORE", "key: HOOKFLOW_STOR", `has no key "HOOKFLOW_STOR"`},
		{"no liveness probe", "kubernetes/worker.yaml", "livenessProbe:", "startupProbe:", "livenessProbe is required"},
		{"HPA targets nothing", "kubernetes/worker.yaml", "kind: Deployment\n    name: hookflow-worker", "kind: Deployment\n    name: hookflow-wrker", `no Deployment "hookflow-wrker"`},
		{"unknown kustomization field", "kubernetes/kustomization.yaml", "resources:", "resourcez:", "resourcez"},
		{"root allowed", "kubernetes/worker.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot must be true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDeploy(t, tc.file, tc.old, tc.new)
			requireProblem(t, checkKubernetes(filepath.Join(dir, "kubernetes")), tc.want)
		})
	}
}
