//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// smokePrefix names the compose projects of TestComposeSmoke:
// hookflow-smoke-<pid>, so that a later run removes what a killed one left
// behind (and nothing else).
const smokePrefix = "hookflow-smoke-"

// TestComposeSmoke brings up deploy/docker-compose.yaml as its users do
// (the locally built images, PostgreSQL, Temporal, `hookflow setup`, api,
// worker), plus the receiver, under a project name of its own and with
// every published port remapped to a free one on 127.0.0.1, so it runs
// beside a `docker compose -p hookflow up` or another run of itself. Then,
// from outside: a flow created through the admin API, triggered, its run
// completed, its delivery at the receiver, the run in the flow's executions.
func TestComposeSmoke(t *testing.T) {
	began := time.Now()
	for _, img := range []string{imagePostgres, imageTemporal, imageHookflow, imageReceiver} {
		requireImage(t, img)
	}
	cp := newComposeProject(t)
	removeStaleSmoke(t)

	// The stack as compose resolves it, with the test's changes (see
	// smokeConfig); `up` waits for the health checks and for setup to
	// exit, as the compose file's depends_on conditions say.
	key := cp.prepare()
	cp.run(5*time.Minute, "up", "-d", "--no-build")
	t.Logf("compose up: %s", time.Since(began).Round(100*time.Millisecond))

	api := "http://" + cp.port("hookflow-api", 8080)
	receiver := "http://" + cp.port("receiver", 8080)
	c := &Cluster{t: t, http: &http.Client{Timeout: 30 * time.Second}}
	eventually(t, 2*time.Minute, 250*time.Millisecond, "the api's /readyz", func() error {
		if a := c.do(http.MethodGet, api+"/readyz", "", "", nil); a.err != nil || a.status != http.StatusOK {
			return fmt.Errorf("%s", a)
		}
		return nil
	})
	t.Logf("api ready: %s", time.Since(began).Round(100*time.Millisecond))

	auth := map[string]string{"Authorization": "Bearer " + key}
	const flowID = "smoke-compose"
	a := c.do(http.MethodPost, api+"/api/v1/flows", "application/yaml", fmt.Sprintf(flowAsyncDelivery, flowID), auth)
	require.Equal(t, http.StatusCreated, a.status, "create the flow: %s", a)
	tok := jsonField(a.body, "token")
	require.NotEmpty(t, tok, a.body)

	a = c.do(http.MethodPost, api+"/hooks/"+tok, "application/json", `{"n":7}`, map[string]string{"Idempotency-Key": "smoke-1"})
	require.Equal(t, http.StatusAccepted, a.status, "trigger: %s", a)
	id := a.header.Get("Hookflow-Execution-Id")
	require.Equal(t, flowID+":smoke-1", id)

	// The run completes, its http step delivered with a 200.
	var e execution
	eventually(t, time.Minute, 250*time.Millisecond, id+" completes", func() error {
		a := c.do(http.MethodGet, api+"/api/v1/executions/"+id, "", "", auth)
		if a.err != nil || a.status != http.StatusOK {
			return fmt.Errorf("%s", a)
		}
		e = execution{}
		if err := json.Unmarshal([]byte(a.body), &e); err != nil {
			return err
		}
		if e.Status != "completed" {
			return fmt.Errorf("status %s", e.Status)
		}
		return nil
	})
	d := e.delivery(t, "send")
	require.Equal(t, http.StatusOK, d.StatusCode, "delivery %+v", d)
	t.Logf("run completed: %s", time.Since(began).Round(100*time.Millisecond))

	// The receiver got it once, with the trigger's data.
	a = c.do(http.MethodGet, receiver+"/control/records?path=/ok/"+flowID+"/", "", "", nil)
	require.Equal(t, http.StatusOK, a.status, a.String())
	var rs []record
	require.NoError(t, json.Unmarshal([]byte(a.body), &rs))
	require.Len(t, rs, 1, "deliveries at the receiver: %+v", rs)
	require.Equal(t, "/ok/"+flowID+"/7", rs[0].Path)
	require.Equal(t, http.MethodPost, rs[0].Method)
	require.Contains(t, rs[0].Body, "7")

	// The run is listed in the flow's executions.
	a = c.do(http.MethodGet, api+"/api/v1/flows/"+flowID+"/executions", "", "", auth)
	require.Equal(t, http.StatusOK, a.status, a.String())
	var page struct {
		Executions []execution `json:"executions"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &page))
	require.Len(t, page.Executions, 1, a.body)
	require.Equal(t, id, page.Executions[0].ID)
	require.Equal(t, "completed", page.Executions[0].Status)
	t.Logf("compose smoke: %s from up to the run in the executions API", time.Since(began).Round(100*time.Millisecond))
}

// composeProject is one compose project of the smoke test.
type composeProject struct {
	t    *testing.T
	name string
	// cmd is docker-compose (v1), or docker compose (v2) where that is
	// what the machine has.
	cmd  []string
	dir  string // holds the resolved compose file
	file string
}

func newComposeProject(t *testing.T) *composeProject {
	t.Helper()
	cp := &composeProject{t: t, name: smokePrefix + strconv.Itoa(os.Getpid()), dir: t.TempDir()}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		cp.cmd = []string{p}
	} else if exec.Command("docker", "compose", "version").Run() == nil {
		cp.cmd = []string{"docker", "compose"}
	} else {
		t.Fatal("neither docker-compose nor docker compose is installed")
	}
	cp.file = filepath.Join(cp.dir, "compose.yaml")
	return cp
}

// composeFile is deploy/docker-compose.yaml.
func composeFile(t *testing.T) string {
	_, self, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(self), "..", "..", "deploy", "docker-compose.yaml")
}

// exec runs compose on the project and returns its combined output.
func (cp *composeProject) exec(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	all := append(append(append([]string{}, cp.cmd[1:]...), "-p", cp.name, "-f", cp.file), args...)
	cmd := exec.CommandContext(ctx, cp.cmd[0], all...)
	cmd.Env = append(os.Environ(),
		// The images under test (the compose file's own variables).
		"HOOKFLOW_IMAGE="+imageHookflow, "TEMPORAL_IMAGE="+imageTemporal, "POSTGRES_IMAGE="+imagePostgres)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (cp *composeProject) run(timeout time.Duration, args ...string) string {
	cp.t.Helper()
	out, err := cp.exec(timeout, args...)
	require.NoError(cp.t, err, "compose %s:\n%s", strings.Join(args, " "), indent(out))
	return out
}

// prepare resolves deploy/docker-compose.yaml with compose itself, changes
// it for the test (smokeConfig), writes it, registers the teardown and
// returns the api key the compose file gives the api.
func (cp *composeProject) prepare() string {
	t := cp.t
	t.Helper()
	// `config` on the real file: compose's own merge and interpolation.
	orig := cp.file
	cp.file = composeFile(t)
	resolved := cp.run(time.Minute, "config")
	cp.file = orig

	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(resolved), &cfg))
	key := smokeConfig(t, cfg)
	b, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cp.file, b, 0o644))

	// Registered before `up`, so a failed `up` is torn down too.
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := cp.exec(time.Minute, "logs", "--no-color", "--tail", "40")
			t.Logf("compose logs (last 40 lines each):\n%s", indent(out))
			ps, _ := cp.exec(time.Minute, "ps")
			t.Logf("compose ps:\n%s", indent(ps))
		}
		began := time.Now()
		if out, err := cp.exec(3*time.Minute, "down", "-v", "--timeout", "10"); err != nil {
			t.Errorf("compose down: %v\n%s", err, indent(out))
		}
		t.Logf("compose down -v: %s", time.Since(began).Round(100*time.Millisecond))
	})
	return key
}

// smokeConfig changes the resolved compose configuration for the test and
// returns the api's key:
//   - every published port becomes a free port on 127.0.0.1 (the file's
//     fixed 8080, 7233 and 9090 could be taken by a `compose up` of the
//     same file or a parallel run);
//   - the receiver joins the project, and the worker allowlists it by
//     name (deliveries to private addresses and plain http are refused
//     otherwise);
//   - every container carries the pid label the cluster suite uses.
func smokeConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	services, ok := cfg["services"].(map[string]any)
	require.True(t, ok, "no services in the resolved compose file")
	services["receiver"] = map[string]any{
		"image": imageReceiver,
		"ports": []any{"127.0.0.1::8080"},
	}
	for name, v := range services {
		svc, ok := v.(map[string]any)
		require.True(t, ok, "service %s", name)
		if ports, ok := svc["ports"].([]any); ok {
			for i, p := range ports {
				switch p := p.(type) {
				case string: // v1: "127.0.0.1:8080:8080/tcp"
					parts := strings.Split(p, ":")
					ports[i] = "127.0.0.1::" + parts[len(parts)-1]
				case map[string]any: // v2: {target, published, host_ip, ...}
					delete(p, "published")
					p["host_ip"] = "127.0.0.1"
				}
			}
		}
		labels, _ := svc["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		labels[pidLabel] = strconv.Itoa(os.Getpid())
		svc["labels"] = labels
	}

	worker, ok := services["hookflow-worker"].(map[string]any)
	require.True(t, ok, "no hookflow-worker service")
	command, ok := worker["command"].([]any)
	require.True(t, ok, "hookflow-worker has no command list")
	worker["command"] = append(command, "--allow-host=receiver")

	api, ok := services["hookflow-api"].(map[string]any)
	require.True(t, ok, "no hookflow-api service")
	env, _ := api["environment"].(map[string]any)
	keys, _ := env["HOOKFLOW_API_KEYS"].(string)
	// name:scopes:key;... : the first key with the write scope.
	for _, k := range strings.Split(keys, ";") {
		parts := strings.SplitN(strings.TrimSpace(k), ":", 3)
		if len(parts) == 3 && strings.Contains(parts[1], "write") && strings.Contains(parts[1], "read") {
			return parts[2]
		}
	}
	t.Fatalf("no read,write key in the api's HOOKFLOW_API_KEYS (%d characters)", len(keys))
	return ""
}

// port is the host address ("127.0.0.1:49160") of a service's published
// port.
func (cp *composeProject) port(service string, port int) string {
	cp.t.Helper()
	out := strings.TrimSpace(cp.run(time.Minute, "port", service, strconv.Itoa(port)))
	lines := strings.Split(out, "\n")
	addr := strings.TrimSpace(lines[len(lines)-1])
	require.True(cp.t, strings.HasPrefix(addr, "127.0.0.1:"), "compose port %s %d: %q", service, port, out)
	return addr
}

// removeStaleSmoke removes the containers, networks and volumes of smoke
// projects whose test process is gone (a timeout skips t.Cleanup): only
// projects named hookflow-smoke-<pid> with no such process.
func removeStaleSmoke(t *testing.T) {
	t.Helper()
	const projLabel = "com.docker.compose.project"
	list := func(kind string) map[string][]string {
		field := "{{.ID}}"
		args := []string{kind, "ls", "--filter", "label=" + projLabel}
		switch kind {
		case "container":
			args = append(args, "-a")
		case "volume":
			field = "{{.Name}}"
		}
		args = append(args, "--format", field+` {{.Label "`+projLabel+`"}}`)
		out, err := exec.Command("docker", args...).Output()
		stale := map[string][]string{}
		if err != nil {
			return stale
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			id, proj, ok := strings.Cut(strings.TrimSpace(line), " ")
			if !ok || !strings.HasPrefix(proj, smokePrefix) {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimPrefix(proj, smokePrefix))
			if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			stale[proj] = append(stale[proj], id)
		}
		return stale
	}
	for _, kind := range []string{"container", "network", "volume"} {
		for proj, ids := range list(kind) {
			t.Logf("removing %d %s(s) of %s, left by an earlier run", len(ids), kind, proj)
			args := append([]string{kind, "rm"}, ids...)
			if kind == "container" {
				args = append([]string{kind, "rm", "-f", "-v"}, ids...)
			}
			_ = exec.Command("docker", args...).Run()
		}
	}
}
