// Package recovery is the recovery of executions: rerun (a new run on the
// same trigger data), resume (Temporal's reset to the failed step, and the
// rule that picks that point), a bulk replay's selection and dry-run count,
// redeliveries (the request's rules, reading a send from history, starting
// a redelivery, listing an execution's), and the refusals with their error
// types. The admin API calls it directly
// and the worker registers its activity entry points, so both do the same.
package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/executions"
	"github.com/hookflow/hookflow/flow"
)

// Recovery errors, matched with errors.Is; the API maps them to 404 and 409.
var (
	ErrExecutionNotFound = errors.New("no such execution")
	ErrStillRunning      = errors.New("the execution is still running")
	ErrNotResumable      = errors.New("the execution cannot be resumed")
)

// Error types of a recovery refused for good (activity failures in a bulk
// replay that a retry cannot change): the contract's names.
const (
	ErrTypeNotFound     = contract.ErrExecutionNotFound
	ErrTypeRunning      = contract.ErrExecutionRunning
	ErrTypeNotResumable = contract.ErrNotResumable
)

// Recoverer reruns and resumes executions: the admin API calls it directly,
// and a bulk replay (the replay workflow) as activities, so both do
// exactly the same.
type Recoverer struct {
	Client sdkclient.Client
	// DataConverter decodes what is read from history, as the client's
	// does (payloads may be encrypted; nil: the SDK's default).
	DataConverter converter.DataConverter
	// Namespace is the client's (empty: learned from the activity's info,
	// or from the SDK, which fills it into requests that name none).
	Namespace string
}

func (r *Recoverer) dataConverter() converter.DataConverter {
	if r.DataConverter != nil {
		return r.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

// namespace is the one the client talks to: the reset request must name it.
func (r *Recoverer) namespace(ctx context.Context) (string, error) {
	switch {
	case r.Namespace != "":
		return r.Namespace, nil
	case activity.IsActivity(ctx):
		return activity.GetInfo(ctx).WorkflowNamespace, nil
	}
	req := &workflowservice.CountWorkflowExecutionsRequest{Query: `WorkflowId = "hookflow-namespace-probe"`}
	if _, err := r.Client.CountWorkflow(ctx, req); err != nil {
		return "", err
	}
	return req.GetNamespace(), nil
}

// Rerun starts a new run with the trigger data of an execution (after the
// same parsing: the original's input), on its own execution id, linked to
// the original by the HookflowRecoveryOf search attribute and memo. It is a
// plain start: no sync caller is answered again.
func (r *Recoverer) Rerun(ctx context.Context, req contract.RerunRequest) (*contract.Recovered, error) {
	desc, err := r.describe(ctx, req.ExecutionID)
	if err != nil {
		return nil, err
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil, recoveryError(ErrStillRunning, ErrTypeRunning, "%s is still running: cancel it first, or wait for it to end", req.ExecutionID)
	}
	orig, err := r.Input(ctx, req.ExecutionID)
	if err != nil {
		return nil, err
	}
	f, version := orig.Flow, orig.FlowVersion
	if req.Flow != nil {
		f, version = req.Flow, req.Version
	}
	f = f.Snapshot()
	key := req.Key
	if key == "" {
		key = uuid.Must(uuid.NewV7()).String()
	}
	opts := contract.StartOptions(f, version, "rerun-"+key)
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(
		contract.SearchAttrFlowID.ValueSet(f.ID),
		contract.SearchAttrFlowVersion.ValueSet(version),
		contract.SearchAttrTriggerMode.ValueSet(string(f.Trigger.EffectiveMode())),
		contract.SearchAttrRecoveryOf.ValueSet(req.ExecutionID),
	)
	opts.Memo = map[string]any{"hookflowRerunOf": req.ExecutionID}
	opts.StaticSummary = fmt.Sprintf("rerun of %s (v%d)", req.ExecutionID, version)
	run, err := r.Client.ExecuteWorkflow(ctx, opts, contract.WorkflowName,
		contract.Input{Flow: f, FlowVersion: version, Trigger: orig.Trigger, PublicURL: orig.PublicURL, Engine: contract.CurrentEngine})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) && req.Key != "" {
		// A retried activity of a bulk replay whose first attempt started
		// the rerun: that one is the rerun.
		return &contract.Recovered{ExecutionID: opts.ID, RunID: started.RunId, Version: version}, nil
	}
	if err != nil {
		return nil, err
	}
	return &contract.Recovered{ExecutionID: run.GetID(), RunID: run.GetRunID(), Version: version}, nil
}

// Resume continues an execution from the step that failed, with Temporal's
// reset: the run's history up to the workflow task that scheduled the failed
// delivery (or, for a run terminated, timed out or canceled, up to its last
// workflow task) is kept, so every step that succeeded keeps its recorded
// result and no delivery that succeeded is sent again; the failed step runs
// again with the same delivery id (Idempotency-Key). Updates are excluded
// from reapplying: a sync caller's update is never applied twice. The
// execution id stays; the reset starts a new run of it.
func (r *Recoverer) Resume(ctx context.Context, req contract.ResumeExecutionRequest) (*contract.Recovered, error) {
	desc, err := r.describe(ctx, req.ExecutionID)
	if err != nil {
		return nil, err
	}
	info := desc.GetWorkflowExecutionInfo()
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return nil, recoveryError(ErrStillRunning, ErrTypeRunning, "%s is still running: there is nothing to resume yet", req.ExecutionID)
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return nil, recoveryError(ErrNotResumable, ErrTypeNotResumable, "%s completed: there is nothing to resume (a rerun runs it again)", req.ExecutionID)
	}
	orig, err := r.Input(ctx, req.ExecutionID)
	if err != nil {
		return nil, err
	}
	if req.Current != nil && !sameDefinition(req.Current, orig.Flow) {
		return nil, recoveryError(ErrNotResumable, ErrTypeNotResumable,
			"the flow changed since %s ran (it ran version %d): a resume continues the run's own history and definition; rerun it on the current version instead",
			req.ExecutionID, orig.FlowVersion)
	}
	runID := info.GetExecution().GetRunId()
	point, note, err := r.resumePoint(ctx, req.ExecutionID, runID, info.GetStatus(), req.AllowResend)
	if err != nil {
		return nil, err
	}
	key := req.Key
	if key == "" {
		key = uuid.Must(uuid.NewV7()).String()
	}
	reason := req.Reason
	if reason == "" {
		reason = "hookflow resume"
	}
	ns, err := r.namespace(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := r.Client.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:         ns,
		WorkflowExecution: info.GetExecution(),
		Reason:            reason,
		// The id is stable per key: a retried request resets once.
		RequestId:                 stableID(req.ExecutionID, runID, key),
		WorkflowTaskFinishEventId: point,
		ResetReapplyExcludeTypes:  []enumspb.ResetReapplyExcludeType{enumspb.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE},
	})
	if err != nil {
		return nil, err
	}
	return &contract.Recovered{ExecutionID: req.ExecutionID, RunID: resp.GetRunId(), Version: orig.FlowVersion, ResetTo: point, Note: note}, nil
}

// resumePoint reads the run's history and applies the resume rule
// (resumePointOf) to it.
func (r *Recoverer) resumePoint(ctx context.Context, id, runID string, status enumspb.WorkflowExecutionStatus, allowResend bool) (int64, string, error) {
	var events []event
	it := r.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, "", err
		}
		if e, ok := reduce(r.dataConverter(), ev); ok {
			events = append(events, e)
		}
	}
	return resumePointOf(id, status, events, allowResend)
}

// Input is an execution's input (its latest run's): flow snapshot, version
// and trigger data, through the workflow's query, so the client's data
// converter decodes it (payloads may be encrypted).
func (r *Recoverer) Input(ctx context.Context, id string) (*contract.Input, error) {
	v, err := r.Client.QueryWorkflow(ctx, id, "", contract.QueryInput)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, recoveryError(ErrExecutionNotFound, ErrTypeNotFound, "no execution %s", id)
		}
		var qf *serviceerror.QueryFailed
		if errors.As(err, &qf) {
			return nil, recoveryError(ErrNotResumable, ErrTypeNotResumable, "%s does not tell its input (it ran on a hookflow before reruns existed)", id)
		}
		return nil, fmt.Errorf("read the input of %s: %w", id, err)
	}
	var in contract.Input
	if err := v.Get(&in); err != nil {
		return nil, fmt.Errorf("decode the input of %s: %w", id, err)
	}
	if in.Flow == nil {
		return nil, recoveryError(ErrNotResumable, ErrTypeNotResumable, "%s has no flow in its input", id)
	}
	return &in, nil
}

func (r *Recoverer) describe(ctx context.Context, id string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	desc, err := r.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, recoveryError(ErrExecutionNotFound, ErrTypeNotFound, "no execution %s", id)
		}
		return nil, err
	}
	return desc, nil
}

// ListForReplay lists one page of the executions a bulk replay selects: by
// their current run (executions.Current), so an execution that a resume
// already completed is not selected by the failed run it left behind, and
// none is selected twice. A page may hold fewer ids than it read.
func (r *Recoverer) ListForReplay(ctx context.Context, q contract.ReplayQuery, token []byte) (*contract.ReplayPage, error) {
	resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q.Visibility(), PageSize: 100, NextPageToken: token})
	if err != nil {
		return nil, err
	}
	current, err := executions.Current(ctx, r.Client, resp.GetExecutions())
	if err != nil {
		return nil, err
	}
	out := &contract.ReplayPage{IDs: []string{}, NextPageToken: resp.GetNextPageToken()}
	for _, e := range current {
		out.IDs = append(out.IDs, e.GetExecution().GetWorkflowId())
	}
	return out, nil
}

// CountForReplay counts the executions a bulk replay would select, as it
// selects them, reading at most examine runs from visibility; exact is false
// when there were more to read.
func (r *Recoverer) CountForReplay(ctx context.Context, q contract.ReplayQuery, examine int) (count int, sample []string, exact bool, err error) {
	var token []byte
	read := 0
	for {
		page, err := r.ListForReplay(ctx, q, token)
		if err != nil {
			return 0, nil, false, err
		}
		count += len(page.IDs)
		for _, id := range page.IDs {
			if len(sample) < 10 {
				sample = append(sample, id)
			}
		}
		read += 100
		token = page.NextPageToken
		if len(token) == 0 {
			return count, sample, true, nil
		}
		if read >= examine {
			return count, sample, false, nil
		}
	}
}

// ResumeActivity and RerunActivity are Resume and Rerun as a bulk replay's
// activities. The SDK turns an activity's error into a failure by the
// error's own type, not through errors.As: a *RecoveryError returned as it
// is became a retryable failure, and a replay retried "nothing to resume"
// for as long as its retry policy allowed. Handed over as the
// non-retryable application error it wraps, a refusal ends the attempt.
func (r *Recoverer) ResumeActivity(ctx context.Context, req contract.ResumeExecutionRequest) (*contract.Recovered, error) {
	got, err := r.Resume(ctx, req)
	return got, asActivityError(err)
}

// RerunActivity: see ResumeActivity.
func (r *Recoverer) RerunActivity(ctx context.Context, req contract.RerunRequest) (*contract.Recovered, error) {
	got, err := r.Rerun(ctx, req)
	return got, asActivityError(err)
}

func asActivityError(err error) error {
	var re *RecoveryError
	if errors.As(err, &re) {
		return re.app
	}
	return err
}

// sameDefinition compares two flows as the workflow sees them.
func sameDefinition(a, b *flow.Flow) bool {
	return reflect.DeepEqual(jsonValue(a), jsonValue(b))
}

func stableID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// recoveryError is a refusal: errors.Is matches its kind, and as an activity
// failure it is not retried.
func recoveryError(kind error, typ, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &RecoveryError{kind: kind, msg: msg, app: temporal.NewNonRetryableApplicationError(msg, typ, nil)}
}

// RecoveryError is a rerun or resume refused, with its reason.
type RecoveryError struct {
	kind error
	msg  string
	app  error
}

func (e *RecoveryError) Error() string        { return e.msg }
func (e *RecoveryError) Is(target error) bool { return target == e.kind }
func (e *RecoveryError) Unwrap() error        { return e.app }

// jsonValue is v as generic JSON (nil when it does not encode).
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
