package schedules

import (
	"context"
	"log/slog"
	"time"
)

// DefaultInterval is how often an api reconciles every schedule when
// nothing else is said: a schedule deleted or edited directly in Temporal
// is repaired within it, without an operator.
const DefaultInterval = 5 * time.Minute

// Clock is the loop's time: the real one in production, moved by tests.
type Clock interface {
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// LoopConfig is the api's reconcile loop.
type LoopConfig struct {
	// Interval between reconciles once the first (at start) succeeded:
	// 0 is DefaultInterval; negative reconciles at start only (Loop
	// returns after it).
	Interval time.Duration
	// MaxRetryWait caps the wait after a failed reconcile (1 s at first,
	// doubling); 0 is a minute. It never exceeds Interval.
	MaxRetryWait time.Duration
	Clock        Clock
	Log          *slog.Logger
}

// ReconcileFunc is one reconcile of every schedule with the store
// (Reconciler.Reconcile on the api's store): the loop's seam.
type ReconcileFunc func(ctx context.Context) ([]Change, error)

// Loop reconciles at start, retrying until Temporal answers, then every
// Interval until ctx is done, and logs what each reconcile changed (each
// change is logged by the Reconciler too). It never blocks serving: the
// schedules are Temporal's, triggers do not need them.
func Loop(ctx context.Context, cfg LoopConfig, reconcile ReconcileFunc) {
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	periodic := cfg.Interval >= 0
	interval := cfg.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	maxRetry := cfg.MaxRetryWait
	if maxRetry <= 0 {
		maxRetry = time.Minute
	}
	if periodic {
		maxRetry = min(maxRetry, interval)
	}

	started := false
	retry := time.Second
	for {
		changes, err := reconcile(ctx)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			wait = min(retry, maxRetry)
			retry = min(2*retry, maxRetry)
			what := "schedules reconcile failed; retrying"
			if !started {
				what = "schedules reconcile at start failed; retrying"
			}
			log.Warn(what, "error", err, "changed", len(changes), "retryIn", wait)
		case !started:
			started, retry, wait = true, time.Second, interval
			log.Info("schedules reconciled at start", "changes", len(changes))
			if !periodic {
				return
			}
		default:
			retry, wait = time.Second, interval
			if len(changes) > 0 {
				log.Info("schedules reconciled: drift repaired", "changes", len(changes), "changed", changeList(changes))
			} else {
				log.Debug("schedules reconciled: in step")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(wait):
		}
	}
}

func changeList(cs []Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}
