// Package destinations is the destinations feature (#15): admin-defined
// webhook targets with a base URL, auth, rate limits, limits per period,
// pause and a circuit breaker, their deliveries parked in their own task
// queues while they must not be sent.
//
//   - store.go: Store, the versioned definitions and the state every
//     worker shares (pause, circuit, failure window, period windows; in
//     leases.go the leases that hold maxInFlight across workers), on
//     the store package's one handle and migration sequence; each
//     transition one conditional statement, so concurrent workers on
//     SQLite or PostgreSQL never lose a count or open a circuit twice.
//   - rules.go, supervisor_rules.go: the rules as pure functions, table
//     tested on a fixed clock (why deliveries park, each period's use,
//     the breaker's step, the admission arithmetic, the poller a state
//     calls for, the gate's verdict, which outcomes are written, a
//     lease's life and how long an attempt waits for one).
//   - supervisor.go: Supervisor, the loop that reads every destination
//     and has one SDK worker per destination started or stopped to match
//     (Config: the store, a StartPoller the worker package supplies, an
//     injected clock), and Gate/Done, the delivery activity's admission
//     (a lease of maxInFlight among it) and outcome on those queues;
//     events.go: the notifications between
//     two reloads.
//   - cache.go: Cache, the worker's short-lived copies of destinations
//     for each attempt; backlog.go: the parked count Temporal reports;
//     flows.go: which flows use a destination.
//
// The thin adapters around it: api/admin/destinations.go (admin routes),
// worker/destination_workers.go (the SDK workers), activities/destinations.go
// (the Resolve local activity and the delivery activity). The spec,
// flow.Destination, is flow's, as every spec is.
package destinations
