package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
)

// The activity side of destinations: the local activity a delivery to one
// starts with, and the delivery activity on a destination's own task
// queue. The rules, the store, the cache and the gate are the
// destinations package's.

// DestinationStore is where destinations are read: the flow store
// (*destinations.Store).
type DestinationStore = destinations.Getter

// DestinationLookup finds a destination when an attempt runs.
type DestinationLookup interface {
	// Lookup returns the destination at least at minVersion (0: any
	// recently read one).
	Lookup(ctx context.Context, name string, minVersion int64) (*destinations.Destination, error)
}

// errNoDestinationStore is a delivery to a destination without the flow
// store.
var errNoDestinationStore = destinations.ErrNoStore

// Destinations reads destinations for the worker (destinations.Cache):
// the policy a delivery is scheduled with (a local activity of the flow
// worker) and, for each attempt, the base URL, auth and headers.
type Destinations struct{ *destinations.Cache }

// NewDestinations reads destinations from st (nil: no store; deliveries
// to destinations then fail, naming --store).
func NewDestinations(st DestinationStore) *Destinations {
	return &Destinations{destinations.NewCache(st)}
}

// Lookup is the cache's (nil: no store).
func (d *Destinations) Lookup(ctx context.Context, name string, minVersion int64) (*destinations.Destination, error) {
	if d == nil {
		return nil, errNoDestinationStore
	}
	return d.Cache.Lookup(ctx, name, minVersion)
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
	return &contract.DestinationPolicy{
		Name: got.Name, Version: got.Version, Retry: got.Def.Retry, Timeouts: got.Def.Timeouts,
		FirstAttemptLocal: destinations.FirstAttemptLocal(got.Def),
	}, nil
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

// ErrorType is a failed attempt's error type (HTTPServerError, ...).
func ErrorType(err error) string { return errorType(err) }

// DestinationDelivery is the delivery activity on a destination's own
// task queue: the destination's gate (paused, limited, circuit open, or
// its maxInFlight all in flight: nothing is sent and the delivery parks
// again), the attempt, and its outcome for the metric and the circuit
// breaker (which gives its lease back).
type DestinationDelivery struct {
	Deliverer *Deliverer
	Gate      *destinations.Supervisor
}

// Deliver is registered as contract.DeliverName on each destination's
// queue.
func (a *DestinationDelivery) Deliver(ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
	at, err := a.Gate.Gate(ctx, req.Destination, gateTiming(ctx, req))
	if err != nil {
		// Counted, so the delivery's attempt number leaves it out.
		RecordParked(ctx, ParkedAttempts(ctx)+1)
		return nil, err
	}
	start := time.Now()
	res, err := a.Deliverer.Deliver(ctx, req)
	a.Gate.Done(at, err, time.Since(start))
	return res, err
}

// gateTiming is what the gate needs of this attempt: its timeouts (a
// lease of the destination's maxInFlight expires a little after them) and
// how often it parked before.
func gateTiming(ctx context.Context, req flow.HTTPRequest) destinations.Timing {
	t := destinations.Timing{Need: req.ConnectTimeout + req.ResponseTimeout, Parked: ParkedAttempts(ctx)}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		t.StartToClose, t.Deadline = info.StartToCloseTimeout, info.Deadline
	}
	return t
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
