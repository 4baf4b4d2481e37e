// Package workflows holds the deterministic executors: FlowWorkflow, the one
// generic Temporal workflow that interprets every user-defined flow (a step
// type's executor is one step_*.go file), the small workflows of
// recovery and notifications (replay, redeliver, notify), and the per-key
// workflows of flow control (gather.go: debounce and batch, over the rules
// of package flowcontrol). What crosses
// processes (names, inputs, results, the step log, search attributes) is in
// package contract; only the worker's registration imports this package.
//
// Workflow code here is deterministic: time from workflow.Now, waits through
// workflow timers, concurrency through workflow.Go, maps iterated in sorted
// order, no I/O. Steps that need I/O run as activities (package activities).
package workflows
