package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Client is the Temporal seam over the SDK's ScheduleClient.
type Client struct {
	C client.Client
	// DC decodes the fingerprint from a schedule's action memo: the
	// client's data converter (nil: the SDK's default). With payload
	// encryption the memo is encrypted like every payload.
	DC converter.DataConverter
}

var _ Temporal = (*Client)(nil)

func (c *Client) sc() client.ScheduleClient { return c.C.ScheduleClient() }

// List reads Temporal's schedule list (visibility) and keeps hookflow's
// whose id starts with prefix.
func (c *Client) List(ctx context.Context, prefix string) ([]Actual, error) {
	it, err := c.sc().List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, err
	}
	var out []Actual
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		if _, _, ok := ParseID(e.ID); ok && strings.HasPrefix(e.ID, prefix) {
			out = append(out, Actual{ID: e.ID, Paused: e.Paused, Note: e.Note})
		}
	}
	return out, nil
}

// Describe reads one schedule.
func (c *Client) Describe(ctx context.Context, id string) (Actual, bool, error) {
	d, err := c.sc().GetHandle(ctx, id).Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Actual{}, false, nil
	}
	if err != nil {
		return Actual{}, false, err
	}
	a := Actual{ID: id}
	if st := d.Schedule.State; st != nil {
		a.Paused, a.Note = st.Paused, st.Note
	}
	a.Described = described(d)
	if wa, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
		a.Fingerprint = c.fingerprint(wa)
	}
	return a, true, nil
}

// described reads what Drift compares from a description.
func described(d *client.ScheduleDescription) *Described {
	out := &Described{}
	if d.Schedule.Spec != nil {
		out.Spec = *d.Schedule.Spec
	}
	if p := d.Schedule.Policy; p != nil {
		out.Overlap, out.CatchupWindow, out.PauseOnFailure = p.Overlap, p.CatchupWindow, p.PauseOnFailure
	}
	if wa, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
		out.Workflow = fmt.Sprint(wa.Workflow)
		out.TaskQueue, out.WorkflowID = wa.TaskQueue, wa.ID
	}
	return out
}

// fingerprint decodes the action memo's fingerprint; "" (which differs
// from every fingerprint, so the schedule is rewritten) when it is absent
// or unreadable.
func (c *Client) fingerprint(wa *client.ScheduleWorkflowAction) string {
	dc := c.DC
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	p, ok := wa.Memo[MemoFingerprint].(*commonpb.Payload)
	var fp string
	if !ok || dc.FromPayload(p, &fp) != nil {
		return ""
	}
	return fp
}

// Create makes the schedule; ErrExists when the id is taken.
func (c *Client) Create(ctx context.Context, d *Desired) error {
	_, err := c.sc().Create(ctx, d.Options)
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return ErrExists
	}
	return err
}

// Update rewrites the action, spec and policies; the pause state and note
// stay as they are (Pause and Unpause change them).
func (c *Client) Update(ctx context.Context, d *Desired) error {
	err := c.sc().GetHandle(ctx, d.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			spec := d.Options.Spec
			s.Spec = &spec
			s.Action = d.Options.Action
			s.Policy = &client.SchedulePolicies{Overlap: d.Options.Overlap, CatchupWindow: d.Options.CatchupWindow}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	return notFound(err)
}

func (c *Client) Pause(ctx context.Context, id, note string) error {
	return notFound(c.sc().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: note}))
}

func (c *Client) Unpause(ctx context.Context, id, note string) error {
	return notFound(c.sc().GetHandle(ctx, id).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}))
}

func (c *Client) Delete(ctx context.Context, id string) error {
	return notFound(c.sc().GetHandle(ctx, id).Delete(ctx))
}

func notFound(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return ErrNotFound
	}
	return err
}
