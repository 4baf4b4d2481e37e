// Package notify is notifications: hookflow's events (runs failed,
// deliveries given up or failed, destinations paused, resumed, circuits
// opened and closed) sent as Standard Webhooks to the destinations that
// take them. It holds the rules as pure functions (which destinations
// take an event, event ids, the body as sent) and the Emitter that starts
// one NotifyWorkflow per destination and event (the flow worker's emit
// local activity, and destination events retried in the background on an
// injected clock). Which events a destination's state changes make is
// the destinations package's (destinations/events.go: its supervisor
// follows the states at each reload, and notify reads destinations, so
// the rule cannot live here without an import cycle); it hands them to
// the Emitter's DestinationEvent.
//
// The names and types that cross processes stay in contract
// (contract/notify.go), the spec and the events' names in flow
// (flow/notify.go), the deterministic NotifyWorkflow in workflows; the
// signing itself is the delivery's (the destination's standardWebhooks
// auth, activities/sign.go).
package notify
