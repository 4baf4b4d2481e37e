package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

// Record steps (step_record_*.go) render their templates here, in workflow
// code, and run their I/O as the record activities (activities/records.go)
// on the flow task queue.

// recordAttemptTimeout bounds one attempt of a record activity: a few
// statements against the flow store.
const recordAttemptTimeout = 30 * time.Second

// recordNonRetryable are the failures a retry cannot change.
var recordNonRetryable = []string{
	contract.ErrRecordInvalid, contract.ErrRecordExists, contract.ErrRecordNotFound,
	contract.ErrCollectionNotFound, contract.ErrRecordConflict, contract.ErrRecordStoreMissing,
	contract.ErrRecordResultTooLong,
}

// RecordActivityOptions is how a record activity is scheduled: retried while
// the store does not answer (1s, x2, at most 1m apart, given up after 24h,
// or the step's retry), never for an answer that cannot change.
func RecordActivityOptions(retry *flow.RetryPolicy, summary string) workflow.ActivityOptions {
	rp := flow.EffectiveRecordRetry(retry)
	return workflow.ActivityOptions{
		TaskQueue:              contract.TaskQueue,
		ScheduleToCloseTimeout: rp.GiveUpAfter.Std(),
		StartToCloseTimeout:    recordAttemptTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        rp.InitialInterval.Std(),
			BackoffCoefficient:     rp.BackoffCoefficient,
			MaximumInterval:        rp.MaximumInterval.Std(),
			MaximumAttempts:        int32(rp.MaximumAttempts),
			NonRetryableErrorTypes: recordNonRetryable,
		},
		Summary: summary,
	}
}

// recordWriteKey is a write's idempotency key: derived like a delivery id
// from the chain's first run id and a number counted with the run's
// deliveries (carried across continue-as-new), so it is the same on every
// attempt of one write and unique per write of a run.
func (r *run) recordWriteKey(ctx workflow.Context) string {
	r.Deliveries++
	sum := sha256.Sum256([]byte(fmt.Sprintf("record/%s/%d", workflow.GetInfo(ctx).FirstRunID, r.Deliveries)))
	return "rw_" + hex.EncodeToString(sum[:16])
}

// renderValues renders a map of values (properties, match, filter).
func (r *run) renderValues(field string, m map[string]any, env map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	v, err := r.eval.Render(m, env)
	if err != nil {
		return nil, fmt.Errorf("%s.%w", field, err)
	}
	return v.(map[string]any), nil
}

// renderTarget renders how a step finds its record: recordId, or match (one
// unique property and its value).
func (r *run) renderTarget(w *contract.RecordWrite, recordID string, match map[string]any, env map[string]any) error {
	if recordID != "" {
		v, err := r.eval.RenderString(recordID, env)
		if err != nil {
			return evalErr("recordId", recordID, err)
		}
		if w.RecordID = expression.TextOf(v); w.RecordID == "" {
			return errors.New("recordId: the template yielded nothing")
		}
		return nil
	}
	m, err := r.renderValues("match", match, env)
	if err != nil {
		return err
	}
	for _, k := range flow.SortedKeys(m) {
		w.MatchProperty, w.MatchValue = k, m[k]
	}
	if w.MatchValue == nil || w.MatchValue == "" {
		return fmt.Errorf("match.%s: the value is empty", w.MatchProperty)
	}
	return nil
}

// runRecordActivity runs one record activity and turns its failure into the
// step's error.
func runRecordActivity(ctx workflow.Context, retry *flow.RetryPolicy, what, name string, in any) (*contract.RecordResult, error) {
	ao := RecordActivityOptions(retry, what)
	// On the run's own queue: a sync run's record steps do not wait behind
	// async runs' work.
	ao.TaskQueue = workflow.GetInfo(ctx).TaskQueueName
	var res contract.RecordResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), name, in).Get(ctx, &res)
	if err == nil {
		return &res, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return nil, fmt.Errorf("%s: %s", what, appErr.Error())
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return nil, fmt.Errorf("%s gave up after %s: %v", what, ao.ScheduleToCloseTimeout, te)
	}
	return nil, err
}
