// Package cluster is hookflow's cluster test suite: PostgreSQL, the
// Temporal server on it, `hookflow setup`, two `hookflow api` and two
// `hookflow worker` containers and a webhook receiver, all from images
// built locally (`make images`), started with testcontainers-go on Docker
// networks of their own, then put through faults (a worker killed mid
// delivery, Temporal restarted, the flow store's database stopped, a
// network cut, rolling restarts under load, a schedule firing through a
// Temporal restart and a rolling restart). Every scenario asserts from
// outside: HTTP answers, the receiver's records, the executions API.
//
// The tests carry the build tag `cluster`, so `go test ./...` does not run
// them; `make test-cluster` does (it builds the images first).
package cluster
