package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// MaxFoundBytes bounds a find's records in a run's history.
const MaxFoundBytes = 1 << 20

// RecordStore is what the record activities need of the flow store
// (*records.Store).
type RecordStore interface {
	Write(ctx context.Context, w records.Write) (*records.WriteResult, error)
	Find(ctx context.Context, collection string, q records.Query) (*records.Page, error)
}

// Records are the record steps' activities: writes and queries on the flow
// store's collections. Without a store (a worker started without --store)
// every record step fails at once, naming the setting.
type Records struct {
	store RecordStore
	log   *slog.Logger
}

// NewRecords returns the record activities on st (nil: no store).
func NewRecords(st RecordStore, log *slog.Logger) *Records {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Records{store: st, log: log}
}

// Register registers the record activities under their stable names. A nil
// *Records registers them without a store.
func (a *Records) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	if a == nil {
		a = NewRecords(nil, nil)
	}
	r.RegisterActivityWithOptions(a.Create, activity.RegisterOptions{Name: contract.RecordCreateName})
	r.RegisterActivityWithOptions(a.Update, activity.RegisterOptions{Name: contract.RecordUpdateName})
	r.RegisterActivityWithOptions(a.Upsert, activity.RegisterOptions{Name: contract.RecordUpsertName})
	r.RegisterActivityWithOptions(a.Find, activity.RegisterOptions{Name: contract.RecordFindName})
	r.RegisterActivityWithOptions(a.Delete, activity.RegisterOptions{Name: contract.RecordDeleteName})
}

// Create adds a record.
func (a *Records) Create(ctx context.Context, w contract.RecordWrite) (*contract.RecordResult, error) {
	return a.write(ctx, records.OpCreate, w)
}

// Update merges properties into the record w finds.
func (a *Records) Update(ctx context.Context, w contract.RecordWrite) (*contract.RecordResult, error) {
	return a.write(ctx, records.OpUpdate, w)
}

// Upsert merges properties into the record w's unique value finds, or
// creates it.
func (a *Records) Upsert(ctx context.Context, w contract.RecordWrite) (*contract.RecordResult, error) {
	return a.write(ctx, records.OpUpsert, w)
}

// Delete removes the record w finds; none is count 0.
func (a *Records) Delete(ctx context.Context, w contract.RecordWrite) (*contract.RecordResult, error) {
	res, err := a.write(ctx, records.OpDelete, w)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == contract.ErrRecordNotFound {
		return &contract.RecordResult{}, nil
	}
	return res, err
}

func (a *Records) write(ctx context.Context, op string, w contract.RecordWrite) (*contract.RecordResult, error) {
	if a.store == nil {
		return nil, errNoStore()
	}
	sw := records.Write{Op: op, Collection: w.Collection, Properties: w.Properties, IdempotencyKey: w.IdempotencyKey,
		Ref: records.RecordRef{ID: w.RecordID, Property: w.MatchProperty, Value: w.MatchValue}}
	res, err := a.store.Write(ctx, sw)
	// Properties may be personal data: the log names the write, never
	// its values.
	attrs := []any{"op", op, "collection", w.Collection, "idempotencyKey", w.IdempotencyKey}
	if activity.IsActivity(ctx) {
		attrs = append(attrs, "attempt", activity.GetInfo(ctx).Attempt)
	}
	if err != nil {
		a.log.Warn("record write failed", append(attrs, "error", err.Error())...)
		return nil, recordError(w.Collection, err)
	}
	a.log.Info("record written", append(attrs, "recordId", res.Record.ID, "replayed", res.Replayed)...)
	out := &contract.RecordResult{Record: res.Record.Map(), Created: res.Created, Changed: res.Changed}
	if res.Deleted {
		out.Count = 1
	}
	return out, nil
}

// Find queries a collection; count is every match.
func (a *Records) Find(ctx context.Context, q contract.RecordQuery) (*contract.RecordResult, error) {
	if a.store == nil {
		return nil, errNoStore()
	}
	page, err := a.store.Find(ctx, q.Collection, records.Query{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Count: true})
	if err != nil {
		return nil, recordError(q.Collection, err)
	}
	out := &contract.RecordResult{Count: page.Total, Records: make([]map[string]any, len(page.Records))}
	for i, r := range page.Records {
		out.Records[i] = r.Map()
	}
	if len(out.Records) > 0 {
		out.Record = out.Records[0]
	}
	if b, _ := json.Marshal(out); len(b) > MaxFoundBytes {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the %d record(s) found hold %d bytes, more than a run keeps (%d): lower limit or narrow the filter", len(out.Records), len(b), MaxFoundBytes),
			contract.ErrRecordResultTooLong, nil)
	}
	return out, nil
}

func errNoStore() error {
	return temporal.NewNonRetryableApplicationError(
		"record steps need the flow store: start the worker with --store (or HOOKFLOW_STORE), the store the API uses",
		contract.ErrRecordStoreMissing, nil)
}

// recordError classifies a store error: what a retry cannot change fails
// the step at once; anything else (the database did not answer) is
// retried.
func recordError(collection string, err error) error {
	var ie *records.InvalidError
	var ue *records.UniqueError
	nonRetryable := func(typ string) error { return temporal.NewNonRetryableApplicationError(err.Error(), typ, nil) }
	switch {
	case errors.As(err, &ie):
		return nonRetryable(contract.ErrRecordInvalid)
	case errors.As(err, &ue):
		return nonRetryable(contract.ErrRecordExists)
	case errors.Is(err, records.ErrNoCollection):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("collection %q does not exist (create it with hookflow collections apply)", collection), contract.ErrCollectionNotFound, nil)
	case errors.Is(err, store.ErrNotFound):
		return nonRetryable(contract.ErrRecordNotFound)
	case errors.Is(err, store.ErrConflict):
		return nonRetryable(contract.ErrRecordConflict)
	}
	return temporal.NewApplicationError(err.Error(), contract.ErrRecordStoreUnavailable)
}
