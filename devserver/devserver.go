// Package devserver runs a single-process Temporal server (frontend, history,
// matching and worker services) on a SQLite file, plus the Temporal Web UI, for
// `hookflow dev` and for integration tests.
//
// It is built on go.temporal.io/server's temporal package the way the Temporal
// CLI's `server start-dev` is, with settings tuned for a small machine: SQLite in
// WAL mode with one connection, one task queue partition, a higher transfer poll
// rate, a 10 ms timer-queue window (short timers fire in milliseconds, not
// after Temporal's 1 s). Only this package links the server; nothing else in
// hookflow imports it.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

const clusterName = "active"

// DefaultRetention is how long the dev server keeps closed runs: a day, as
// Temporal's own dev server, so the data file holds at most a day of runs
// (about 24 KB each; see docs/performance.md) and an operator still finds
// yesterday's failures. Clusters set theirs with hookflow setup (7 days).
const DefaultRetention = 24 * time.Hour

// Options configures the embedded server. The zero value of an optional field
// takes the default named in its comment.
type Options struct {
	// IP to bind every service to. Default 127.0.0.1.
	IP string
	// FrontendPort is the gRPC port clients dial. 0 picks a free port.
	FrontendPort int
	// UIPort serves the Temporal Web UI. 0 means no UI.
	UIPort int
	// UICodecEndpoint is the remote codec the Web UI decodes payloads with
	// (hookflow's /codec when payload encryption is on). Empty: none.
	UICodecEndpoint string
	// DatabaseFile is the SQLite file holding all state. Empty keeps the
	// state in memory (tests); a file makes runs survive a restart.
	DatabaseFile string
	// Namespace to register at start. Default "default".
	Namespace string
	// SearchAttributes are the custom search attributes registered in the
	// namespace (SQLite visibility allows at most 3 Int and 10 Keyword).
	SearchAttributes map[string]enumspb.IndexedValueType
	// DynamicConfig overrides or adds dynamic config values on top of the
	// tuned defaults (see DefaultDynamicConfig).
	DynamicConfig map[string]any
	// Logger receives the server's logs. Default: discard below Warn.
	Logger *slog.Logger
	// SQLiteConns is the SQLite connection pool size (default 1; more are
	// safe in WAL mode, see docs/performance.md).
	SQLiteConns int
	// HistoryShards is the number of history shards (default 1). It is
	// fixed when the database is created.
	HistoryShards int32
	// Retention is how long closed runs are kept (default DefaultRetention).
	// It is applied at every start, so an existing data directory follows
	// the setting.
	Retention time.Duration
	// FullVisibilityIndexes keeps every index of Temporal's visibility
	// schema; by default a database file keeps only those hookflow's
	// filters use (see leanVisibility).
	FullVisibilityIndexes bool
	// SQLitePragmas are added to (or override) the connection's pragmas
	// (see DefaultSQLitePragmas); for tuning experiments.
	SQLitePragmas map[string]string
}

// Server is a running embedded Temporal server.
type Server struct {
	server       temporal.Server
	ui           *uiserver.Server
	frontendAddr string
	uiAddr       string
	namespace    string
	stopping     *atomic.Bool
}

// FrontendAddress is the host:port for Temporal clients.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress is the host:port of the Web UI, empty when it does not run.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace is the namespace registered at start.
func (s *Server) Namespace() string { return s.namespace }

// DefaultDynamicConfig holds the settings measured to keep Update-With-Start
// fast on a two-core machine with a SQLite store: one task queue partition
// (a single-node server gains nothing from several and pays for forwarding
// between them), a transfer queue polled often enough that new tasks do not
// wait on the poll interval.
//
// Temporal's persistence and visibility rate limits protect a database that
// a cluster's hosts and tenants share; here one process owns its SQLite
// file, so they are raised out of the way (SQLite's single writer is the
// real bound), and the namespace's visibility rate suits the Web UI and API
// paging together.
//
// Search attributes are read through the server's cache: they are all
// written to the database before the server starts, so the first read sees
// them. Forcing a refresh on every read (as the Temporal CLI's dev server
// does, for attributes added at run time) cost a database read per run
// listed: a page of 1,000 runs hit the frontend's persistence rate limit
// ("System Persistence Max QPS Reached").
func DefaultDynamicConfig() map[string]any {
	const unbounded = 1_000_000
	return map[string]any{
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key().String():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key().String(): 1,
		dynamicconfig.TransferProcessorMaxPollRPS.Key().String():         1000,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key().String():        8192,

		// The timer queue reads its tasks up to now + this shift ahead and
		// fires them from memory; a timer created inside a window already
		// read is pushed to the window's end (shard/task_key_manager.go,
		// getExclusiveReaderHighWatermark; shard/task_key_generator.go,
		// setTaskKeys). With Temporal's 1 s, a timer created within a
		// second of the last read (and every timer fired is a read) fires
		// about a second late: a 1 ms timer took ~1 s. The window absorbs
		// clock skew between a cluster's hosts and batches the queue's
		// reads; one process has one clock, so 10 ms is safe here only.
		// A short window means a read per timer or so: at the default 20
		// reads per second a 1 ms timer still took ~190 ms (up to 1.2 s).
		dynamicconfig.TimerProcessorMaxTimeShift.Key().String(): 10 * time.Millisecond,
		dynamicconfig.TimerProcessorMaxPollRPS.Key().String():   1000,

		dynamicconfig.FrontendPersistenceMaxQPS.Key().String():        unbounded,
		dynamicconfig.HistoryPersistenceMaxQPS.Key().String():         unbounded,
		dynamicconfig.MatchingPersistenceMaxQPS.Key().String():        unbounded,
		dynamicconfig.WorkerPersistenceMaxQPS.Key().String():          unbounded,
		dynamicconfig.VisibilityPersistenceMaxReadQPS.Key().String():  unbounded,
		dynamicconfig.VisibilityPersistenceMaxWriteQPS.Key().String(): unbounded,
		// Per second, for the namespace's List/Count/Scan calls.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key().String(): 1000,
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key().String():      false,

		// A retry gets a new activity stamp. Without it, a restart replays
		// the transfer task that dispatched the first attempt (the queue
		// checkpoints every ~30s), the stale dispatch looks current, and
		// the pending retry starts at once instead of after its backoff.
		dynamicconfig.EnableActivityRetryStampIncrement.Key().String(): true,

		// A worker that stops (a destination paused, its circuit opened
		// or its limit per period used up) has its outstanding polls
		// completed empty by the server, instead of cancelled at the
		// client: a task matched to a cancelled poll is otherwise lost
		// until its start-to-close timeout (measured: a delivery stuck
		// ~35 s after a limited destination's poller stopped).
		dynamicconfig.EnableCancelWorkerPollsOnShutdown.Key().String(): true,
	}
}

// Start builds and starts the server and, when asked, the Web UI. It returns
// once the frontend accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retention < time.Hour {
		return nil, fmt.Errorf("devserver: retention %s: at least 1h", opts.Retention)
	}
	if opts.FrontendPort != 0 {
		// A port the caller fixed (--temporal-port) must be free; say so
		// plainly rather than through the server's start-up failure.
		if err := checkPortFree(net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))); err != nil {
			return nil, fmt.Errorf("devserver: Temporal frontend port: %w", err)
		}
	}
	// Ports are found free by listening and closing, and the server binds
	// them a moment later; another server (a parallel test package, say)
	// can take one in between. Such a start is retried with fresh ports.
	var (
		srv          temporal.Server
		frontendAddr string
		stopping     *atomic.Bool
		err          error
	)
	for attempt := 1; ; attempt++ {
		srv, frontendAddr, stopping, err = startServer(opts)
		if err == nil || attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		opts.Logger.Warn("embedded Temporal: a port was taken meanwhile; retrying with fresh ports", "attempt", attempt)
	}
	if err != nil {
		return nil, err
	}
	s := &Server{server: srv, frontendAddr: frontendAddr, namespace: opts.Namespace, stopping: stopping}
	if err := applyRetention(frontendAddr, opts.Namespace, opts.Retention); err != nil {
		srv.Stop()
		return nil, err
	}

	if opts.UIPort != 0 {
		s.uiAddr = net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
		// Fail early and clearly when the port is taken: the UI server's
		// Start blocks and would only report it from its goroutine.
		if err := checkPortFree(s.uiAddr); err != nil {
			srv.Stop()
			return nil, fmt.Errorf("devserver: web UI: %w", err)
		}
		s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                opts.IP,
			Port:                opts.UIPort,
			TemporalGRPCAddress: frontendAddr,
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
			Codec:               uiconfig.Codec{Endpoint: opts.UICodecEndpoint},
		}))
		go func() {
			if err := s.ui.Start(); err != nil && !errors.Is(err, context.Canceled) {
				opts.Logger.Error("temporal web UI stopped", "error", err)
			}
		}()
	}
	return s, nil
}

// startServer picks the ports it needs (the frontend's only when not set),
// then builds and starts the server.
func startServer(opts Options) (srv temporal.Server, addr string, stopping *atomic.Bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			srv, addr, stopping, err = nil, "", nil, fmt.Errorf("devserver: %s", f.text)
		}
	}()
	if opts.FrontendPort == 0 {
		p, err := FreePort(opts.IP)
		if err != nil {
			return nil, "", nil, err
		}
		opts.FrontendPort = p
	}
	frontendAddr := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))

	sqlConf, err := prepareSQLite(opts)
	if err != nil {
		return nil, "", nil, err
	}
	conf, err := serverConfig(opts, sqlConf)
	if err != nil {
		return nil, "", nil, err
	}

	stopping = &atomic.Bool{}
	logger := newServerLogger(opts.Logger, stopping)
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, "", nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, "", nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	dyn := dynamicconfig.StaticClient{}
	for k, v := range DefaultDynamicConfig() {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	for k, v := range opts.DynamicConfig {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	srv, err = temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, "", nil, fmt.Errorf("devserver: build server: %w", err)
	}
	if err := srv.Start(); err != nil {
		srv.Stop()
		return nil, "", nil, fmt.Errorf("devserver: start server: %w", err)
	}
	return srv, frontendAddr, stopping, nil
}

// Stop stops the UI and the server. It is safe to call once.
func (s *Server) Stop() {
	s.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	s.server.Stop()
}

// applyRetention sets the namespace's retention when an existing data
// directory holds another (a new one was created with it).
func applyRetention(frontendAddr, namespace string, retention time.Duration) error {
	conn, err := grpc.NewClient(frontendAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("devserver: retention: %w", err)
	}
	defer conn.Close()
	svc := workflowservice.NewWorkflowServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devserver: describe namespace %q: %w", namespace, err)
	}
	if d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = svc.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("devserver: set the retention of namespace %q to %s: %w", namespace, retention, err)
	}
	return nil
}

// DefaultSQLitePragmas are the SQLite settings of the server's connection:
// WAL with normal sync (a commit is durable at the next checkpoint; a power
// cut may lose the last transactions, never corrupt), and a busy timeout.
func DefaultSQLitePragmas() map[string]string {
	return map[string]string{
		"journal_mode": "wal",
		"synchronous":  "normal",
		"busy_timeout": "10000",
	}
}

func prepareSQLite(opts Options) (*config.SQL, error) {
	conf := &config.SQL{
		PluginName: sqliteplugin.PluginName,
		// One connection in WAL mode: SQLite has one writer anyway, and a
		// single connection avoids lock contention between pooled ones.
		MaxConns:          max(opts.SQLiteConns, 1),
		MaxIdleConns:      max(opts.SQLiteConns, 1),
		ConnectAttributes: DefaultSQLitePragmas(),
	}
	for k, v := range opts.SQLitePragmas {
		conf.ConnectAttributes[k] = v
	}
	if opts.DatabaseFile == "" {
		conf.ConnectAttributes["mode"] = "memory"
		conf.ConnectAttributes["cache"] = "shared"
		// A name unique to this server so that two servers in one process
		// (tests) never share an in-memory database.
		conf.DatabaseName = fmt.Sprintf("hookflow-%d-%d", os.Getpid(), time.Now().UnixNano())
		delete(conf.ConnectAttributes, "journal_mode")
	} else {
		conf.ConnectAttributes["mode"] = "rwc"
		conf.DatabaseName = opts.DatabaseFile
	}
	// The SQLite plugin creates the schema of an in-memory database by
	// itself; a file needs it once, when it is new.
	fresh := false
	if opts.DatabaseFile != "" {
		if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o755); err != nil {
				return nil, fmt.Errorf("devserver: data directory: %w", err)
			}
			fresh = true
		} else if err != nil {
			return nil, fmt.Errorf("devserver: database file: %w", err)
		}
	}
	if fresh {
		if err := sqliteschema.SetupSchema(conf); err != nil {
			return nil, fmt.Errorf("devserver: set up schema: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace %q: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: namespace %q: %w", opts.Namespace, err)
	}
	if opts.DatabaseFile != "" && !fresh {
		if _, err := addSearchAttributes(opts.DatabaseFile, opts.Namespace, opts.SearchAttributes); err != nil {
			return nil, fmt.Errorf("devserver: search attributes: %w", err)
		}
	}
	if opts.DatabaseFile != "" && !opts.FullVisibilityIndexes {
		if err := leanVisibility(opts.DatabaseFile, opts.Namespace); err != nil {
			return nil, fmt.Errorf("devserver: visibility indexes: %w", err)
		}
	}
	return conf, nil
}

func serverConfig(opts Options, sqlConf *config.SQL) (*config.Config, error) {
	httpPort, err := FreePort(opts.IP)
	if err != nil {
		return nil, err
	}
	frontendAddr := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = opts.IP
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = max(opts.HistoryShards, 1)
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            net.JoinHostPort(opts.IP, strconv.Itoa(httpPort)),
				// A fixed UUID: the server warns on anything else.
				ClusterID: "8c7d1b56-4f0e-4d2a-9b3e-6a1f0c5d2e71",
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = opts.IP
		if name == "frontend" {
			svc.RPC.GRPCPort = opts.FrontendPort
			svc.RPC.HTTPPort = httpPort
		} else {
			p, err := FreePort(opts.IP)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontendAddr
	return conf, nil
}

// FreePort asks the kernel for a free TCP port on ip.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func checkPortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}
