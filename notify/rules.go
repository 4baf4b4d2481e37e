package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// The rules of notifications: pure functions, no clock, no I/O.

// NewEventID is a fresh event id (destination events: one worker or one
// API request makes each transition, so a random id is unique; it is kept
// across the retries of its start and delivery).
func NewEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// DestinationEventID is the id of the event typ about destination name
// for the state change that began at since: the same in every process.
func DestinationEventID(name, typ string, since time.Time) string {
	sum := sha256.Sum256([]byte(name + "\x00" + typ + "\x00" + strconv.FormatInt(since.UnixMilli(), 10)))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// WorkflowID is the id of the workflow that delivers an event to a
// destination: a second start of it is refused, so duplicates collapse.
func WorkflowID(destination, eventID string) string {
	return "hookflow-notify:" + destination + ":" + eventID
}

// RetryWait is the wait before the nth background retry of a destination
// event Temporal did not take: 1 s, doubling, at most 30 s.
func RetryWait(retry int) time.Duration {
	wait := time.Second
	for range retry - 1 {
		if wait >= 30*time.Second {
			break
		}
		wait *= 2
	}
	return min(wait, 30*time.Second)
}

// Targets are the destinations that take an event of type typ, each once:
// the flow's own notify (fn, nil for none), then the global setting's,
// which a flow event (flowEvent) reaches only if the flow allows it.
func Targets(global flow.NotifySetting, fn *flow.Notify, typ string, flowEvent bool) []string {
	var out []string
	if fn.Wants(typ) {
		out = append(out, fn.Destination)
	}
	if global.Wants(typ) && (!flowEvent || fn.GlobalAllowed()) && (len(out) == 0 || out[0] != global.Destination) {
		out = append(out, global.Destination)
	}
	return out
}

// Body is a notification as it is sent (Standard Webhooks' payload
// shape): type, timestamp (RFC 3339) and data.
func Body(ev contract.Notification) (json.RawMessage, error) {
	return json.Marshal(struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}{ev.Type, ev.Timestamp.UTC().Format(time.RFC3339Nano), ev.Data})
}

// SignsStandardWebhooks tells whether a destination signs what it sends
// as Standard Webhooks: what receivers of notifications verify.
func SignsStandardWebhooks(d *flow.Destination) bool {
	return d != nil && d.Auth != nil && d.Auth.Type == flow.AuthSignature && d.Auth.Version == flow.SignatureStandardWebhooks
}
