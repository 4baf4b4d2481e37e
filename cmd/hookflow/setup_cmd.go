package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/namespace"
	"github.com/hookflow/hookflow/secrets"
)

// defaultRetention is how long Temporal keeps a closed run of a namespace
// setup registers. A duplicate of an event is recognized (and a sync
// duplicate answered with the first run's answer) only while the first run
// is kept; webhook senders retry for up to three days (Stripe; Standard
// Webhooks' schedule runs about as long), so a week leaves a margin without
// keeping history for long.
const defaultRetention = 7 * 24 * time.Hour

// setupOptions are what `hookflow setup` (and `worker --setup`) set up.
type setupOptions struct {
	namespace string        // empty: the client's (TEMPORAL_NAMESPACE, else "default")
	retention time.Duration // for a namespace it registers
	wait      time.Duration // how long to retry while Temporal starts
}

func setupCmd(g *globalFlags) *cobra.Command {
	o := &setupOptions{}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Register the Temporal namespace (when missing) and hookflow's search attributes (configured by TEMPORAL_* variables)",
		Long: `Prepares a Temporal cluster for hookflow, without the temporal CLI: registers
the namespace the api and worker use (TEMPORAL_NAMESPACE, else "default") when
it does not exist, and adds hookflow's search attributes (HookflowFlowId,
HookflowFlowVersion, HookflowTriggerMode) to it. Safe to run again: what
exists is left as it is. While Temporal is starting (unreachable, or the new
namespace not yet known to every service) it retries, for up to --wait.

Connects like the api and the worker (TEMPORAL_ADDRESS, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE). Registering a namespace needs a cluster
admin's rights and adding search attributes a namespace admin's; without
them setup says which call was refused and what to ask your operator for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("text")
			if err != nil {
				return err
			}
			if o.retention < 24*time.Hour {
				return fmt.Errorf("--retention must be at least 24h (Temporal's minimum), not %s", o.retention)
			}
			ctx, stop := signalContext()
			defer stop()
			obs, err := setupObservability(ctx, log, "hookflow-setup", secrets.Default(""))
			if err != nil {
				return err
			}
			defer obs.close(log)
			opts, err := obs.clientOptions(log)
			if err != nil {
				return err
			}
			if o.namespace != "" {
				opts.Namespace = o.namespace
			}
			ns := namespaceOf(opts)
			ctx, cancel := context.WithTimeout(ctx, o.wait)
			defer cancel()
			c, err := dialWaiting(ctx, log, opts, o.wait)
			if err != nil {
				return err
			}
			defer c.Close()
			out := cmd.OutOrStdout()
			return setUpNamespace(ctx, log, c, ns, o, func(msg string) { fmt.Fprintln(out, msg) })
		},
	}
	cmd.Flags().StringVar(&o.namespace, "namespace", "", "namespace to set up (default: the configured TEMPORAL_NAMESPACE, else \"default\")")
	cmd.Flags().DurationVar(&o.retention, "retention", defaultRetention, "how long Temporal keeps closed runs of a namespace setup registers: duplicates of an event are recognized this long after its run closed (an existing namespace keeps its own)")
	cmd.Flags().DurationVar(&o.wait, "wait", 2*time.Minute, "how long to retry while Temporal is starting")
	return cmd
}

// setupAtStart is `worker --setup`: the same as `hookflow setup` on the
// worker's client and namespace, before the workers start, reported in the
// log.
func setupAtStart(ctx context.Context, log *slog.Logger, obs *observability, c sdkclient.Client, wait time.Duration) error {
	opts, err := obs.clientOptions(log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	o := &setupOptions{retention: defaultRetention, wait: wait}
	return setUpNamespace(ctx, log, c, namespaceOf(opts), o, func(msg string) { log.Info("setup: " + msg) })
}

// dialWaiting connects to Temporal, retrying while it does not answer
// (starting, or not yet reachable) until ctx is done.
func dialWaiting(ctx context.Context, log *slog.Logger, opts sdkclient.Options, wait time.Duration) (sdkclient.Client, error) {
	var c sdkclient.Client
	err := retry(ctx, log, wait, "connect to Temporal at "+addressOf(opts), func(ctx context.Context) error {
		var err error
		c, err = sdkclient.DialContext(ctx, opts)
		return err
	})
	if err != nil {
		return nil, explain(err, "connect to Temporal at "+addressOf(opts), "")
	}
	log.Info("connected to Temporal", "temporal", addressOf(opts), "namespace", namespaceOf(opts))
	return c, nil
}

// setUpNamespace registers namespace ns when it does not exist and adds the
// search attributes it lacks, then waits until runs can start there (the
// server's namespace cache has caught up). report tells each outcome.
func setUpNamespace(ctx context.Context, log *slog.Logger, c sdkclient.Client, ns string, o *setupOptions, report func(string)) error {
	svc := c.WorkflowService()

	// 1. The namespace.
	var desc *workflowservice.DescribeNamespaceResponse
	missing := false
	err := retry(ctx, log, o.wait, "describe namespace "+ns, func(ctx context.Context) error {
		resp, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		if isNotFound(err) {
			missing = true
			return nil
		}
		desc = resp
		return err
	})
	if err != nil {
		return explain(err, "read namespace "+ns+" (DescribeNamespace)", "Grant the credentials access to namespace "+ns+".")
	}
	if missing {
		err := retry(ctx, log, o.wait, "register namespace "+ns, func(ctx context.Context) error {
			_, err := svc.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
				Namespace:                        ns,
				Description:                      "hookflow runs",
				WorkflowExecutionRetentionPeriod: durationpb.New(o.retention),
			})
			var exists *serviceerror.NamespaceAlreadyExists
			if errors.As(err, &exists) {
				return nil // another setup was quicker
			}
			return err
		})
		if err != nil {
			return explain(err, "register namespace "+ns+" (RegisterNamespace)",
				fmt.Sprintf("Registering a namespace needs a cluster admin. Ask your Temporal operator to create it "+
					"(temporal operator namespace create --namespace %s --retention %s; on Temporal Cloud, in the Cloud UI or with tcld), "+
					"then run hookflow setup again to add the search attributes.", ns, shortDuration(o.retention)))
		}
		report(fmt.Sprintf("namespace %s: registered (retention %s)", ns, shortDuration(o.retention)))
	} else {
		report(fmt.Sprintf("namespace %s: exists (retention %s)", ns,
			shortDuration(desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())))
	}

	// 2. The search attributes. A namespace just registered may not be
	// known to every frontend yet: NotFound is retried.
	var lack, wrong []string
	err = retry(ctx, log, o.wait, "list search attributes of "+ns, func(ctx context.Context) error {
		var err error
		lack, wrong, err = namespace.MissingSearchAttributes(ctx, c, ns)
		if isNotFound(err) {
			return transient{err}
		}
		return err
	})
	if err != nil {
		return explain(err, "list the search attributes of namespace "+ns+" (OperatorService.ListSearchAttributes)", createAttributesHint(ns))
	}
	if len(wrong) > 0 {
		return fmt.Errorf("namespace %s already has search attributes of another type: %s. Temporal cannot change an attribute's type: "+
			"remove them (temporal operator search-attribute remove --namespace %s --name ...) if nothing else uses them, or give hookflow its own namespace (TEMPORAL_NAMESPACE)",
			ns, strings.Join(wrong, ", "), ns)
	}
	types := contract.SearchAttributeTypes()
	if len(lack) > 0 {
		add := map[string]enumspb.IndexedValueType{}
		var names []string
		for _, name := range lack {
			add[name] = types[name]
			names = append(names, fmt.Sprintf("%s (%s)", name, namespace.TypeName(types[name])))
		}
		err := retry(ctx, log, o.wait, "add search attributes to "+ns, func(ctx context.Context) error {
			_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				Namespace: ns, SearchAttributes: add,
			})
			if code(err) == codes.AlreadyExists {
				return nil // another setup was quicker
			}
			if isNotFound(err) {
				return transient{err}
			}
			return err
		})
		if err != nil {
			return explain(err, "add search attributes to namespace "+ns+" (OperatorService.AddSearchAttributes)", createAttributesHint(ns))
		}
		report(fmt.Sprintf("search attributes: added %s", strings.Join(names, ", ")))
	} else {
		report("search attributes: " + strings.Join(namespace.SearchAttributeNames(), ", ") + " present")
	}

	// 3. Usable: the server maps every attribute (its namespace cache
	// refreshes every few seconds after a change).
	check := namespace.NamespaceReadiness(c)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		problems := check.Check(cctx)
		cancel()
		if problems == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("namespace %s is set up, but runs cannot start there yet after --wait %s: %v", ns, o.wait, problems)
		}
		log.Debug("waiting for the namespace to be usable", "problems", problems)
		sleep(ctx, 500*time.Millisecond)
	}
	report(fmt.Sprintf("ready: runs can start in namespace %s", ns))
	return nil
}

func createAttributesHint(ns string) string {
	var b strings.Builder
	b.WriteString("Adding search attributes needs a namespace admin. Ask your Temporal operator to run:")
	types := contract.SearchAttributeTypes()
	for _, name := range namespace.SearchAttributeNames() {
		fmt.Fprintf(&b, "\n  temporal operator search-attribute create --namespace %s --name %s --type %s", ns, name, namespace.TypeName(types[name]))
	}
	return b.String()
}

// transient marks an error retry should retry although its code would not
// be (a namespace not yet known everywhere).
type transient struct{ error }

func (t transient) Unwrap() error { return t.error }

// retry calls f, each call bounded to 10 s, until it succeeds, fails for
// good, or ctx is done. Temporal not answering (Unavailable, a deadline, a
// rate limit) is retried with a growing pause up to 5 s.
func retry(ctx context.Context, log *slog.Logger, wait time.Duration, what string, f func(context.Context) error) error {
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		var tr transient
		if !errors.As(err, &tr) && !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gave up after --wait %s: %w", wait, err)
		}
		log.Info("setup: retrying", "action", what, "attempt", attempt, "error", err.Error())
		sleep(ctx, pause)
		pause = min(pause*2, 5*time.Second)
	}
}

// code is the gRPC code of an error from the SDK (which turns statuses
// into serviceerror types) or from gRPC itself.
func code(err error) codes.Code { return serviceerror.ToStatus(err).Code() }

func retryable(err error) bool {
	switch code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func isNotFound(err error) bool {
	var nf *serviceerror.NamespaceNotFound
	return errors.As(err, &nf) || code(err) == codes.NotFound
}

// explain turns a refused call into an error naming the call, the missing
// permission and what to do.
func explain(err error, action, hint string) error {
	switch code(err) {
	case codes.PermissionDenied:
		msg := fmt.Sprintf("%s: permission denied (%s)", action, serviceerror.ToStatus(err).Message())
		if hint != "" {
			msg += ". " + hint
		}
		return errors.New(msg)
	case codes.Unauthenticated:
		return fmt.Errorf("%s: Temporal refused the credentials (%s): check TEMPORAL_API_KEY or the TLS client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)",
			action, serviceerror.ToStatus(err).Message())
	}
	return fmt.Errorf("%s: %w", action, err)
}

func addressOf(o sdkclient.Options) string {
	if o.HostPort == "" {
		return sdkclient.DefaultHostPort
	}
	return o.HostPort
}

// shortDuration writes 168h rather than 168h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
