package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// DestinationStore is where destinations are read: the flow store (*store.Destinations).
type DestinationStore interface {
	Get(ctx context.Context, name string) (*store.Destination, error)
}

// DestinationLookup finds a destination when an attempt runs.
type DestinationLookup interface {
	// Lookup returns the destination at least at minVersion (0: any
	// recently read one).
	Lookup(ctx context.Context, name string, minVersion int64) (*store.Destination, error)
}

// destinationTTL is how long a worker reuses a destination it read: a
// change reaches every attempt that starts this long after it.
const destinationTTL = time.Second

// Destinations reads destinations from the flow store for the worker: the
// policy a delivery is scheduled with (a local activity of the flow
// worker) and, for each attempt, the base URL, auth and headers.
type Destinations struct {
	store DestinationStore
	mu    sync.Mutex
	cache map[string]cachedDestination
	now   func() time.Time // time.Now; tests move it
}

type cachedDestination struct {
	d  *store.Destination
	at time.Time
}

// serves tells whether a destination read at c.at answers a lookup at now
// for minVersion: read less than destinationTTL ago and at least at that
// version; a negative minVersion (Resolve: a delivery starting) always
// reads the store.
func (c cachedDestination) serves(now time.Time, minVersion int64) bool {
	return now.Sub(c.at) < destinationTTL && c.d.Version >= minVersion && minVersion >= 0
}

// NewDestinations reads destinations from st (nil: no store; deliveries
// to destinations then fail, naming --store).
func NewDestinations(st DestinationStore) *Destinations {
	return &Destinations{store: st, cache: map[string]cachedDestination{}, now: time.Now}
}

var errNoDestinationStore = temporal.NewNonRetryableApplicationError(
	"deliveries to destinations need the flow store: start the worker with --store (or HOOKFLOW_STORE), the store the API uses",
	contract.ErrStoreUnavailable, nil)

// Lookup returns a destination, read at most destinationTTL ago and at
// least at minVersion (the version its delivery started with). Errors
// are Temporal application errors: a destination that does not exist is
// not retried, a store that does not answer is.
func (d *Destinations) Lookup(ctx context.Context, name string, minVersion int64) (*store.Destination, error) {
	if d == nil || d.store == nil {
		return nil, errNoDestinationStore
	}
	d.mu.Lock()
	c, ok := d.cache[name]
	d.mu.Unlock()
	if ok && c.serves(d.now(), minVersion) {
		return c.d, nil
	}
	got, err := d.store.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("destination %q does not exist (deleted after the flow was applied?)", name), contract.ErrNoDestination, nil)
	}
	if err != nil {
		return nil, temporal.NewApplicationError(fmt.Sprintf("destination %q: the flow store could not be read: %v", name, err), contract.ErrStoreUnavailable)
	}
	d.mu.Lock()
	d.cache[name] = cachedDestination{d: got, at: d.now()}
	d.mu.Unlock()
	return got, nil
}

// Resolve is the local activity a delivery to a destination starts with:
// the destination's version, retry policy and timeouts (nothing secret),
// read from the store (not the cache): a delivery that starts after a
// change uses it.
func (d *Destinations) Resolve(ctx context.Context, name string) (*contract.DestinationPolicy, error) {
	got, err := d.Lookup(ctx, name, -1)
	if err != nil {
		return nil, err
	}
	return &contract.DestinationPolicy{Name: got.Name, Version: got.Version, Retry: got.Def.Retry, Timeouts: got.Def.Timeouts}, nil
}

// Register registers the local activity under its stable name; a nil
// *Destinations registers it without a store.
func (d *Destinations) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	if d == nil {
		d = NewDestinations(nil)
	}
	r.RegisterActivityWithOptions(d.Resolve, activity.RegisterOptions{Name: contract.ResolveDestinationName})
}

// CountsAgainstDestination tells whether a failed attempt is the
// destination's failure, for its circuit breaker: 5xx, network errors and
// timeouts, 429. A 4xx is the request's fault, a refused or missing secret
// the operator's.
func CountsAgainstDestination(err error) bool {
	switch errorType(err) {
	case contract.ErrHTTPServer, contract.ErrNetwork, contract.ErrTooManyRequests:
		return true
	}
	return false
}

// ErrorType is a failed attempt's error type (HTTPServerError, ...).
func ErrorType(err error) string { return errorType(err) }

// Backlog is what Temporal reports of a destination's task queue:
// deliveries waiting for a poller (all of them while it is paused, open
// or limited) and the oldest one's age. Approximate, as Temporal's task
// queue statistics are.
type Backlog struct {
	Count     int64
	OldestAge time.Duration
}

// DestinationBacklog asks Temporal for a destination's task queue backlog
// (one DescribeTaskQueue with its statistics): the parked deliveries the
// admin API shows and the worker's hookflow_destination_parked metric.
func DestinationBacklog(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace, name string) (Backlog, error) {
	resp, err := svc.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: flow.DestinationTaskQueue(name), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		ReportStats:   true,
	})
	if err != nil {
		return Backlog{}, err
	}
	st := resp.GetStats()
	b := Backlog{Count: st.GetApproximateBacklogCount()}
	if age := st.GetApproximateBacklogAge().AsDuration(); age > 0 && b.Count > 0 {
		b.OldestAge = age
	}
	return b, nil
}

// ClientNamespace is a Temporal client's namespace. The SDK does not tell
// it, but fills it into a visibility request that names none: one tiny
// query (a workflow type that never runs) learns it.
func ClientNamespace(ctx context.Context, c sdkclient.Client) (string, error) {
	req := &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1, Query: `WorkflowType = "hookflow.none"`}
	_, err := c.ListWorkflow(ctx, req)
	if ns := req.GetNamespace(); ns != "" {
		return ns, nil
	}
	if err == nil {
		err = errors.New("the Temporal client did not name its namespace")
	}
	return "", err
}

// ParkedAttempts is how many earlier attempts of this delivery parked at
// a destination's gate (paused, open, limited: nothing was sent), as the
// last of them recorded in the activity's heartbeat details, which
// Temporal keeps from one attempt to the next. Deliver does not count them
// in the delivery's attempt number.
func ParkedAttempts(ctx context.Context) int32 {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return 0
	}
	var n int32
	if activity.GetHeartbeatDetails(ctx, &n) != nil {
		return 0
	}
	return n
}

// RecordParked records that this attempt parked too (n parked attempts so
// far): one heartbeat, sent before the attempt reports its failure.
func RecordParked(ctx context.Context, n int32) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, n)
	}
}
