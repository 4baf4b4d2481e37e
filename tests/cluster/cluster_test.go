//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
)

// The images `make images` builds (see deploy/README.md).
var (
	imagePostgres = envOr("HOOKFLOW_TEST_POSTGRES_IMAGE", "hookflow-postgres:dev")
	imageTemporal = envOr("HOOKFLOW_TEST_TEMPORAL_IMAGE", "hookflow-temporal:dev")
	imageHookflow = envOr("HOOKFLOW_TEST_IMAGE", "hookflow:dev")
	imageReceiver = envOr("HOOKFLOW_TEST_RECEIVER_IMAGE", "hookflow-receiver:dev")
)

const (
	pgPassword = "cluster-test-password"
	apiKey     = "sk_cluster_test_0123456789abcdef"
	// cacheTTL is the api replicas' --cache-ttl.
	cacheTTL = 2 * time.Second
	// pidLabel marks every container and network with the pid of the test
	// process that made it, so a later run can remove what a killed run
	// (a timeout skips t.Cleanup) left behind, and only that.
	pidLabel = "hookflow.cluster-test.pid"
	// storeDSN is the flow store the api replicas and the workers share.
	storeDSN = "postgres://postgres:" + pgPassword + "@store-db:5432/hookflow?sslmode=disable"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// node is one container of the cluster.
type node struct {
	name string
	c    *testcontainers.DockerContainer
	// port is the container port published on 127.0.0.1 ("8080/tcp"), if
	// any; ready is the path answering 200 once the node is ready.
	port, ready string
}

// Cluster is the running topology.
type Cluster struct {
	t      *testing.T
	docker *testcontainers.DockerClient
	// net joins everything; hooks joins only the workers and the
	// receiver, so cutting a worker from it cuts only its deliveries.
	net, hooks  *testcontainers.DockerNetwork
	hooksSubnet string

	postgres, storeDB, temporal, receiver *node
	apis, workers                         []*node

	http *http.Client

	mu       sync.Mutex
	baseURLs map[*node]string
	// rotation: which api replicas the load balancer (the tests) sends
	// to; a replica leaves it before it is stopped and rejoins once ready.
	rotation map[*node]bool
	next     int
}

// startCluster starts the whole topology and registers its removal in
// t.Cleanup. On 2 cores it takes about a minute, most of it Temporal.
func startCluster(t *testing.T) *Cluster {
	t.Helper()
	// The reaper (Ryuk) image cannot be pulled here; t.Cleanup removes
	// everything instead.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	for _, img := range []string{imagePostgres, imageTemporal, imageHookflow, imageReceiver} {
		requireImage(t, img)
	}
	ctx := context.Background()
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { docker.Close() })
	removeStale(t, docker)

	c := &Cluster{
		t: t, docker: docker,
		http:     &http.Client{Timeout: 60 * time.Second},
		baseURLs: map[*node]string{},
		rotation: map[*node]bool{},
	}
	c.net = newNetwork(t)
	c.hooks = newNetwork(t)
	insp, err := docker.NetworkInspect(ctx, c.hooks.ID, client.NetworkInspectOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, insp.Network.IPAM.Config, "the receiver network has no subnet")
	c.hooksSubnet = insp.Network.IPAM.Config[0].Subnet.String()

	start := time.Now()
	// PostgreSQL for Temporal; another for the flow store, so that
	// stopping the store's database leaves Temporal running.
	parallel(t,
		func() {
			c.postgres = c.run("postgres", imagePostgres, []string{"postgres"}, nil, map[string]string{"POSTGRES_PASSWORD": pgPassword}, "", "")
		},
		func() {
			c.storeDB = c.run("store-db", imagePostgres, []string{"store-db"}, nil,
				map[string]string{"POSTGRES_PASSWORD": pgPassword, "POSTGRES_DATABASES": "hookflow"}, "", "")
		},
		func() {
			c.receiver = c.runOn("receiver", imageReceiver, c.hooks, []string{"receiver"}, nil, nil, "8080/tcp", "/control/records")
		},
	)
	c.waitPostgres(c.postgres)
	c.waitPostgres(c.storeDB)
	c.temporal = c.run("temporal", imageTemporal, []string{"temporal"}, nil, map[string]string{
		"DB_HOST": "postgres", "DB_PORT": "5432", "DB_USER": "postgres", "DB_PASSWORD": pgPassword, "NUM_HISTORY_SHARDS": "4",
	}, "7233/tcp", "")
	c.t.Logf("postgres, receiver and temporal started in %s", time.Since(start).Round(time.Second))

	// hookflow setup, once: the namespace and the search attributes.
	c.setup(ctx)
	c.t.Logf("setup done after %s", time.Since(start).Round(time.Second))

	// The api replicas start one after the other, and the workers (which
	// open the store too) once the first is ready: started together on a
	// fresh store, two processes run its migrations at once and one fails
	// ("duplicate key value violates unique constraint
	// pg_type_typname_nsp_index"; the store's migrations take no lock).
	var fns []func()
	firstAPI := make(chan struct{})
	apiStarted := sync.OnceFunc(func() { close(firstAPI) })
	fns = append(fns, func() {
		defer apiStarted() // also when it failed: the workers must not wait forever
		for i := 1; i <= 2; i++ {
			n := c.run(fmt.Sprintf("api-%d", i), imageHookflow, []string{fmt.Sprintf("api-%d", i)},
				[]string{"api", "--addr", "0.0.0.0:8080", "--cache-ttl", cacheTTL.String(), "--drain-timeout", "20s"},
				hookflowEnv(map[string]string{
					"HOOKFLOW_STORE":    storeDSN,
					"HOOKFLOW_API_KEYS": "ops:read,write:" + apiKey,
				}), "8080/tcp", "/readyz")
			c.mu.Lock()
			c.apis = append(c.apis, n)
			c.rotation[n] = true
			c.mu.Unlock()
			apiStarted()
		}
	})
	for i := 1; i <= 2; i++ {
		fns = append(fns, func() {
			<-firstAPI
			name := fmt.Sprintf("worker-%d", i)
			n := c.run(name, imageHookflow, []string{name},
				[]string{"worker", "--allow-host", "receiver", "--allow-host", c.hooksSubnet, "--metrics-addr", ":9090", "--shutdown-timeout", "20s"},
				// The flow store, as in deploy/: destinations' deliveries need it.
				hookflowEnv(map[string]string{"HOOKFLOW_STORE": storeDSN}), "9090/tcp", "/readyz", withHostname(name), network.WithNetwork([]string{name}, c.hooks))
			c.mu.Lock()
			c.workers = append(c.workers, n)
			c.mu.Unlock()
		})
	}
	parallel(t, fns...)
	sortNodes(c.apis)
	sortNodes(c.workers)
	c.t.Logf("cluster ready in %s", time.Since(start).Round(time.Second))
	return c
}

func hookflowEnv(extra map[string]string) map[string]string {
	env := map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_NAMESPACE": "default"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func withHostname(name string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithConfigModifier(func(cfg *container.Config) { cfg.Hostname = name })
}

func sortNodes(ns []*node) {
	for i := range ns {
		for j := i + 1; j < len(ns); j++ {
			if ns[j].name < ns[i].name {
				ns[i], ns[j] = ns[j], ns[i]
			}
		}
	}
}

// setup runs `hookflow setup` once and requires it to succeed.
func (c *Cluster) setup(ctx context.Context) {
	n := c.run("setup", imageHookflow, nil, []string{"setup", "--wait", "4m"}, hookflowEnv(nil), "", "",
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(5*time.Minute)))
	st, err := n.c.State(ctx)
	require.NoError(c.t, err)
	out := c.logs(n, 0)
	c.t.Logf("hookflow setup:\n%s", indent(out))
	require.Equal(c.t, 0, st.ExitCode, "hookflow setup failed:\n%s", out)
	require.Contains(c.t, out, "ready: runs can start in namespace default")
}

// run starts a container on the cluster network.
func (c *Cluster) run(name, image string, aliases, cmd []string, env map[string]string, port, ready string, opts ...testcontainers.ContainerCustomizer) *node {
	return c.runOn(name, image, c.net, aliases, cmd, env, port, ready, opts...)
}

// runOn starts a container on network nw with the given aliases, publishes
// port on 127.0.0.1 only, and waits until GET ready answers 200 (when
// ready is set).
func (c *Cluster) runOn(name, image string, nw *testcontainers.DockerNetwork, aliases, cmd []string, env map[string]string, port, ready string, opts ...testcontainers.ContainerCustomizer) *node {
	c.t.Helper()
	all := []testcontainers.ContainerCustomizer{
		network.WithNetwork(aliases, nw),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(map[string]string{pidLabel: strconv.Itoa(os.Getpid()), "hookflow.cluster-test.node": name}),
		testcontainers.WithLogger(tclog.TestLogger(c.t)),
	}
	if len(cmd) > 0 {
		all = append(all, testcontainers.WithCmd(cmd...))
	}
	if port != "" {
		p := mobynet.MustParsePort(port)
		all = append(all, testcontainers.WithExposedPorts(port), testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = mobynet.PortMap{}
			}
			hc.PortBindings[p] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
		}))
	}
	all = append(all, opts...)
	ctr, err := testcontainers.Run(context.Background(), image, all...)
	testcontainers.CleanupContainer(c.t, ctr)
	n := &node{name: name, c: ctr, port: port, ready: ready}
	if ctr != nil {
		// Registered after the removal, so it runs before it.
		t := c.t
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("--- %s (last 40 lines) ---\n%s", name, indent(c.logs(n, 40)))
			}
		})
	}
	if err != nil && ctr != nil {
		c.t.Logf("%s logs:\n%s", name, indent(c.logs(n, 100)))
	}
	require.NoError(c.t, err, "start %s", name)
	if ready != "" {
		c.waitReady(n, 3*time.Minute)
	}
	return n
}

func newNetwork(t *testing.T) *testcontainers.DockerNetwork {
	t.Helper()
	nw, err := network.New(context.Background(), network.WithLabels(map[string]string{pidLabel: strconv.Itoa(os.Getpid())}))
	require.NoError(t, err)
	testcontainers.CleanupNetwork(t, nw)
	return nw
}

// requireImage fails at once, saying how to build it, when an image is
// missing: nothing can be pulled here.
func requireImage(t *testing.T, image string) {
	t.Helper()
	ctx := context.Background()
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	require.NoError(t, err, "Docker is needed for the cluster tests")
	defer docker.Close()
	if _, err := docker.ImageInspect(ctx, image); err != nil {
		t.Fatalf("image %s is missing (%v): run `make images` first (make test-cluster does)", image, err)
	}
}

// removeStale removes the containers and networks earlier runs of this
// suite left behind when their process died before its cleanup (a test
// timeout): those whose pid label names a process that no longer runs.
func removeStale(t *testing.T, docker *testcontainers.DockerClient) {
	ctx := context.Background()
	gone := func(labels map[string]string) bool {
		pid, err := strconv.Atoi(labels[pidLabel])
		if err != nil || pid == os.Getpid() {
			return false
		}
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	ctrs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", pidLabel)})
	if err == nil {
		for _, ctr := range ctrs.Items {
			if gone(ctr.Labels) {
				t.Logf("removing container %s left by an earlier run", ctr.ID[:12])
				_, _ = docker.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
	}
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", pidLabel)})
	if err == nil {
		for _, nw := range nets.Items {
			if gone(nw.Labels) {
				_, _ = docker.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
			}
		}
	}
}

// waitPostgres waits until PostgreSQL accepts connections.
func (c *Cluster) waitPostgres(n *node) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, _, err := n.c.Exec(context.Background(), []string{"pg_isready", "-h", "127.0.0.1", "-U", "postgres"})
		if err == nil && code == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready after 2 minutes (pg_isready: %d, %v):\n%s", n.name, code, err, indent(c.logs(n, 50)))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitStore waits until the flow store's database answers and both api
// replicas read from it again.
func (c *Cluster) waitStore() {
	c.t.Helper()
	c.waitPostgres(c.storeDB)
	for i := range c.apis {
		eventually(c.t, time.Minute, 250*time.Millisecond, "replica reads the store", func() error {
			if a := c.admin(i, http.MethodGet, "/api/v1/flows", "", ""); a.status != http.StatusOK {
				return fmt.Errorf("%s", a)
			}
			return nil
		})
	}
}

// url is the node's published port on 127.0.0.1, as an http base URL.
// The host port changes when the container restarts.
func (c *Cluster) url(n *node) string {
	u, err := c.tryURL(n)
	require.NoError(c.t, err)
	return u
}

// tryURL is url for goroutines other than the test's (no require).
func (c *Cluster) tryURL(n *node) (string, error) {
	c.mu.Lock()
	u, ok := c.baseURLs[n]
	c.mu.Unlock()
	if ok {
		return u, nil
	}
	p, err := n.c.MappedPort(context.Background(), n.port)
	if err != nil {
		return "", fmt.Errorf("%s: mapped port: %w", n.name, err)
	}
	u = "http://127.0.0.1:" + strconv.Itoa(int(p.Num()))
	c.mu.Lock()
	c.baseURLs[n] = u
	c.mu.Unlock()
	return u, nil
}

// waitReady waits until the node answers 200 on its ready path, failing
// early (with its log) when the container exits.
func (c *Cluster) waitReady(n *node, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		st, err := n.c.State(context.Background())
		if err == nil && !st.Running {
			c.t.Fatalf("%s exited (%d) before it was ready:\n%s", n.name, st.ExitCode, indent(c.logs(n, 60)))
		}
		status, body, err := c.get(c.url(n) + n.ready)
		if err == nil && status == http.StatusOK {
			return
		}
		last = fmt.Sprintf("%d %s %v", status, body, err)
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready after %s (last: %s):\n%s", n.name, within, last, indent(c.logs(n, 60)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stop stops a node: SIGTERM, then SIGKILL after grace.
func (c *Cluster) stop(n *node, grace time.Duration) {
	c.t.Helper()
	require.NoError(c.t, n.c.Stop(context.Background(), &grace), "stop %s", n.name)
	c.mu.Lock()
	delete(c.baseURLs, n)
	c.mu.Unlock()
}

// kill sends SIGKILL: the process gets no chance to finish anything.
//
// A node killed stays down for the scenario to start again; if the
// scenario ends first (a failure), its cleanup starts it, so the next
// scenario finds the cluster whole.
func (c *Cluster) kill(n *node) {
	c.t.Helper()
	t := c.t
	t.Cleanup(func() {
		if st, err := n.c.State(context.Background()); err == nil && !st.Running {
			c.start(n)
		}
	})
	_, err := c.docker.ContainerKill(context.Background(), n.c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"})
	require.NoError(c.t, err, "kill %s", n.name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := n.c.State(context.Background())
		if err == nil && !st.Running {
			break
		}
		require.True(c.t, time.Now().Before(deadline), "%s still runs after SIGKILL", n.name)
		time.Sleep(100 * time.Millisecond)
	}
	c.mu.Lock()
	delete(c.baseURLs, n)
	c.mu.Unlock()
}

// start starts a stopped node again and waits until it is ready.
func (c *Cluster) start(n *node) {
	c.t.Helper()
	require.NoError(c.t, n.c.Start(context.Background()), "start %s", n.name)
	c.mu.Lock()
	delete(c.baseURLs, n)
	c.mu.Unlock()
	if n.ready != "" {
		c.waitReady(n, 3*time.Minute)
	}
}

// disconnect cuts node n from network nw; connect joins it again with its
// alias.
func (c *Cluster) disconnect(n *node, nw *testcontainers.DockerNetwork) {
	c.t.Helper()
	_, err := c.docker.NetworkDisconnect(context.Background(), nw.ID, client.NetworkDisconnectOptions{Container: n.c.GetContainerID(), Force: true})
	require.NoError(c.t, err, "disconnect %s", n.name)
}

func (c *Cluster) connect(n *node, nw *testcontainers.DockerNetwork) {
	c.t.Helper()
	_, err := c.docker.NetworkConnect(context.Background(), nw.ID, client.NetworkConnectOptions{
		Container: n.c.GetContainerID(), EndpointConfig: &mobynet.EndpointSettings{Aliases: []string{n.name}},
	})
	require.NoError(c.t, err, "connect %s", n.name)
}

// logs returns the last lines of a node's output (all with tail 0).
func (c *Cluster) logs(n *node, tail int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := n.c.Logs(ctx)
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// parallel runs fns at once and returns when all are done.
func parallel(t *testing.T, fns ...func()) {
	t.Helper()
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// temporalClient dials Temporal through its published port, to see which
// worker holds an activity (the identity names the worker's host name).
func (c *Cluster) temporalClient() sdkclient.Client {
	c.t.Helper()
	p, err := c.temporal.c.MappedPort(context.Background(), "7233/tcp")
	require.NoError(c.t, err)
	tc, err := sdkclient.Dial(sdkclient.Options{HostPort: "127.0.0.1:" + strconv.Itoa(int(p.Num())), Namespace: "default", Logger: quietLogger{}})
	require.NoError(c.t, err)
	return tc
}

// --- HTTP ---

type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, a.body)
}

func (c *Cluster) do(method, url, contentType, body string, header map[string]string) answer {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *Cluster) get(url string) (int, string, error) {
	a := c.do(http.MethodGet, url, "", "", nil)
	return a.status, a.body, a.err
}

// admin calls the management API of replica i with the test's key.
func (c *Cluster) admin(i int, method, path, contentType, body string) answer {
	return c.do(method, c.url(c.apis[i])+path, contentType, body, map[string]string{"Authorization": "Bearer " + apiKey})
}

// createFlow creates a flow (YAML) through replica i and returns its
// trigger token.
func (c *Cluster) createFlow(i int, yaml string) string {
	c.t.Helper()
	a := c.admin(i, http.MethodPost, "/api/v1/flows", "application/yaml", yaml)
	require.Equal(c.t, http.StatusCreated, a.status, a.String())
	var f struct {
		Token string `json:"token"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(a.body), &f))
	require.NotEmpty(c.t, f.Token)
	return f.Token
}

// trigger posts body to a flow's trigger URL on replica i.
func (c *Cluster) trigger(i int, token, body, key string) answer {
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	base, err := c.tryURL(c.apis[i])
	if err != nil {
		return answer{err: err}
	}
	return c.do(http.MethodPost, base+"/hooks/"+token, "application/json", body, h)
}

// pick is the next api replica in rotation, round robin.
func (c *Cluster) pick() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range c.apis {
		i := c.next % len(c.apis)
		c.next++
		if c.rotation[c.apis[i]] {
			return i
		}
	}
	return 0
}

func (c *Cluster) setRotation(n *node, in bool) {
	c.mu.Lock()
	c.rotation[n] = in
	c.mu.Unlock()
}

// execution is what the executions API answers for one run.
type execution struct {
	ID     string `json:"id"`
	RunID  string `json:"runId"`
	Status string `json:"status"`
	Mode   string `json:"mode"` // in its detail only
	Steps  *struct {
		Steps []struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Error    string `json:"error"`
			Delivery *struct {
				DeliveryID string `json:"deliveryId"`
				StatusCode int    `json:"statusCode"`
				Attempts   int    `json:"attempts"`
				LastError  string `json:"lastError"`
			} `json:"delivery"`
		} `json:"steps"`
	} `json:"steps"`
}

// executions lists every run of a flow (all pages) through replica i.
func (c *Cluster) executions(i int, flowID string) ([]execution, error) {
	var all []execution
	token := ""
	for {
		q := url.Values{"pageSize": {"1000"}}
		if token != "" {
			q.Set("nextPageToken", token)
		}
		a := c.admin(i, http.MethodGet, "/api/v1/flows/"+flowID+"/executions?"+q.Encode(), "", "")
		if a.err != nil || a.status != http.StatusOK {
			return nil, fmt.Errorf("list executions of %s: %s", flowID, a)
		}
		var page struct {
			Executions    []execution `json:"executions"`
			NextPageToken string      `json:"nextPageToken"`
		}
		if err := json.Unmarshal([]byte(a.body), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Executions...)
		if page.NextPageToken == "" {
			return all, nil
		}
		token = page.NextPageToken
	}
}

// execution reads one run (with its step log) through replica i.
func (c *Cluster) execution(i int, id string) (execution, error) {
	a := c.admin(i, http.MethodGet, "/api/v1/executions/"+url.PathEscape(id), "", "")
	if a.err != nil || a.status != http.StatusOK {
		return execution{}, fmt.Errorf("get execution %s: %s", id, a)
	}
	var e execution
	err := json.Unmarshal([]byte(a.body), &e)
	return e, err
}

// --- the receiver ---

type record struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
	Time    time.Time   `json:"time"`
}

func (c *Cluster) records(prefix string) []record {
	c.t.Helper()
	status, body, err := c.get(c.url(c.receiver) + "/control/records?path=" + url.QueryEscape(prefix))
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, status, body)
	var rs []record
	require.NoError(c.t, json.Unmarshal([]byte(body), &rs))
	return rs
}

// release answers every request the receiver holds; it returns how many.
func (c *Cluster) release() int {
	c.t.Helper()
	a := c.do(http.MethodPost, c.url(c.receiver)+"/control/release", "", "", nil)
	require.NoError(c.t, a.err)
	require.Equal(c.t, http.StatusOK, a.status, a.body)
	var r struct {
		Released int `json:"released"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(a.body), &r))
	return r.Released
}

// eventually polls f every interval until it returns nil or within has
// passed, then fails with f's last error.
func eventually(t *testing.T, within, interval time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(interval)
	}
}

var errPending = errors.New("pending")

// jsonField reads a top-level string field of a JSON body.
func jsonField(body, field string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	s, _ := m[field].(string)
	return s
}

// quietLogger keeps the test's own Temporal client quiet.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// workerOf is the cluster's worker whose SDK identity ("pid@hostname@",
// the SDK's default) this is, or nil.
func (c *Cluster) workerOf(identity string) *node {
	for _, w := range c.workers {
		if strings.Contains(identity+"@", "@"+w.name+"@") {
			return w
		}
	}
	return nil
}

// taskHolder is the worker that took a run's latest workflow task, read
// from the identity of its history's last WorkflowTaskStarted event (nil
// when no worker of the cluster's took it), and that identity.
func (c *Cluster) taskHolder(t *testing.T, tc sdkclient.Client, id string) (*node, string) {
	t.Helper()
	var identity string
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
			identity = a.GetIdentity()
		}
	}
	return c.workerOf(identity), identity
}

// historyCount counts a run's history events of one type; for markers,
// only those named marker (the SDK's "LocalActivity" for a local activity,
// beside its side-effect and version markers).
func (c *Cluster) historyCount(t *testing.T, tc sdkclient.Client, id string, typ enumspb.EventType, marker ...string) int {
	t.Helper()
	n := 0
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if ev.GetEventType() != typ {
			continue
		}
		if len(marker) > 0 && ev.GetMarkerRecordedEventAttributes().GetMarkerName() != marker[0] {
			continue
		}
		n++
	}
	return n
}

// releaseUntilDone answers every request the receiver holds, now and
// every 300 ms, until the returned stop is called (which waits for it).
func (c *Cluster) releaseUntilDone() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if base, err := c.tryURL(c.receiver); err == nil {
				c.do(http.MethodPost, base+"/control/release", "", "", nil)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// held is how many requests the receiver holds now, and the most it held
// at once since the last call with restart (which starts the peak again
// from now).
func (c *Cluster) held(restart bool) (now, peak int) {
	c.t.Helper()
	method := http.MethodGet
	if restart {
		method = http.MethodPost
	}
	a := c.do(method, c.url(c.receiver)+"/control/held", "", "", nil)
	require.NoError(c.t, a.err)
	require.Equal(c.t, http.StatusOK, a.status, a.body)
	var r struct{ Held, Peak int }
	require.NoError(c.t, json.Unmarshal([]byte(a.body), &r))
	return r.Held, r.Peak
}

// storeQuery runs one SQL query on the flow store's PostgreSQL and returns
// its rows, one line each, columns separated by |.
func (c *Cluster) storeQuery(sql string) []string {
	c.t.Helper()
	code, out, err := c.storeDB.c.Exec(context.Background(), []string{"psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "hookflow", "-tA", "-c", sql},
		tcexec.Multiplexed(), tcexec.WithEnv([]string{"PGPASSWORD=" + pgPassword}))
	require.NoError(c.t, err)
	b, _ := io.ReadAll(out)
	var rows []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			rows = append(rows, line)
		}
	}
	require.Equal(c.t, 0, code, "psql %q: %v", sql, rows)
	return rows
}
