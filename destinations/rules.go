package destinations

import (
	"cmp"
	"slices"
	"time"

	"github.com/hookflow/hookflow/flow"
)

// The destinations' rules apart from their SQL (store.go): why
// deliveries park (StatusAt), each period limit's use as of a time, the
// circuit breaker's step after an outcome is counted, and the period
// limits' admission arithmetic. The statements count; these decide.

// StatusAt is why d's deliveries park at now (paused, open, limited), or
// closed.
func (d *Destination) StatusAt(now time.Time) string {
	enabled, _, _ := d.Def.Breaker()
	switch {
	case d.State.Paused:
		return StatusPaused
	case enabled && d.State.Circuit == CircuitOpen:
		return StatusOpen
	case d.State.LimitedUntil != nil && now.Before(*d.State.LimitedUntil):
		return StatusLimited
	}
	return StatusClosed
}

// limitWindow is a stored period window.
type limitWindow struct {
	periodMS, start, used int64
}

// withLimits fills d's period limits' use as of now from its stored
// windows (a window that has ended counts 0), and its status.
func withLimits(d *Destination, windows []limitWindow, now time.Time) {
	d.State.Limits, d.State.LimitedUntil = nil, nil
	if d.State.FailureWindow != nil && !now.Before(d.State.FailureWindow.ResetsAt) {
		d.State.FailureWindow.Requests, d.State.FailureWindow.Failures = 0, 0
		d.State.FailureWindow.ResetsAt = time.UnixMilli(d.Def.RateWindow().WindowStart(now) + d.Def.RateWindow().Window.Milliseconds()).UTC()
	}
	for _, l := range d.Def.Limits {
		per := l.Per.Std().Milliseconds()
		ws := l.WindowStart(now)
		u := LimitUsage{Per: l.Per, Max: l.Max, ResetsAt: time.UnixMilli(ws + per).UTC()}
		for _, w := range windows {
			// A window later than this clock's (another worker's clock
			// runs ahead) is the current one, as the admission treats it.
			if w.periodMS == per && w.start >= ws {
				u.Used, u.ResetsAt = w.used, time.UnixMilli(w.start+per).UTC()
			}
		}
		if u.Used >= u.Max && (d.State.LimitedUntil == nil || u.ResetsAt.After(*d.State.LimitedUntil)) {
			t := u.ResetsAt
			d.State.LimitedUntil = &t
		}
		d.State.Limits = append(d.State.Limits, u)
	}
	d.State.Status = d.StatusAt(now)
}

// breakerStep is what a counted outcome does to the circuit.
type breakerStep int

const (
	breakerStay    breakerStep = iota
	breakerOpen                // open the closed circuit (one worker's statement wins)
	breakerReprobe             // a failed probe: the next one a probe interval away
)

// afterOutcome is the breaker's rule once an outcome is counted: on a
// closed circuit, failures in a row (count, at least failures > 0) or,
// with a failure-rate window w (Rate 0: none), its counts (requests,
// failedIn) tripping it, open it; on an open circuit a failed probe sets
// the next one. A success here changes nothing: closing is the success
// path's own statement (RecordOutcome: any success; RecordWindowOutcome:
// the probe's only).
func afterOutcome(circuit string, ok, probe bool, count int64, failures int, w flow.FailureWindow, requests, failedIn int64) breakerStep {
	switch {
	case circuit == CircuitClosed && ((!ok && failures > 0 && count >= int64(failures)) || w.Trips(requests, failedIn)):
		return breakerOpen
	case circuit == CircuitOpen && probe && !ok:
		return breakerReprobe
	}
	return breakerStay
}

// maxLastError bounds the last error kept in a destination's state.
const maxLastError = 500

func clipLastError(s string) string {
	if len(s) > maxLastError {
		return s[:maxLastError]
	}
	return s
}

// lockOrder is the order AdmitAttempt counts limits in: longest period
// first, so every worker takes the rows' locks in the same order.
func lockOrder(limits []flow.PeriodLimit) []flow.PeriodLimit {
	sorted := slices.Clone(limits)
	slices.SortFunc(sorted, func(a, b flow.PeriodLimit) int { return cmp.Compare(b.Per, a.Per) })
	return sorted
}

// refused is the answer to an attempt a used-up window refused: it waits
// until that window ends (ws is the window holding now, start the stored
// one, per the period, all in Unix milliseconds; a stored window later
// than this clock's, from a worker whose clock runs ahead, is the one).
func refused(ws, start, per int64) Admission {
	return Admission{ResetsAt: time.UnixMilli(max(ws, start) + per).UTC()}
}

// countIn folds one limit's counted window into adm: the attempt that
// fills its window (used reaches max) reports TransitionLimited with the
// window's end, the latest of several; the first attempt after a window
// that was full reports TransitionUnlimited, unless another limit is used
// up by this attempt.
func (adm *Admission) countIn(used, start, per, max int64, wasFull bool) {
	if used >= max {
		if end := time.UnixMilli(start + per).UTC(); end.After(adm.ResetsAt) {
			adm.Transition, adm.ResetsAt = TransitionLimited, end
		}
	} else if wasFull && adm.Transition == "" {
		adm.Transition = TransitionUnlimited
	}
}
