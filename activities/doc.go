// Package activities will hold every step that does I/O (the http step's
// outbound webhook delivery first), as methods on a struct holding their
// dependencies, registered once on the webhook task queue.
//
// Not built yet: the foundation's step types are all pure and run in
// workflow code. The http step is the send-webhook issue's work.
package activities
