package contract

// Names of the record activities (stable: histories refer to them). They run
// on the flow task queue, on workers with the flow store (--store).
const (
	RecordCreateName = "hookflow.RecordCreate"
	RecordUpdateName = "hookflow.RecordUpdate"
	RecordUpsertName = "hookflow.RecordUpsert"
	RecordFindName   = "hookflow.RecordFind"
	RecordDeleteName = "hookflow.RecordDelete"
)

// Error types of failed record activities. All but ErrRecordStoreUnavailable
// fail the step at once: retrying cannot change the answer.
const (
	ErrRecordInvalid       = "RecordInvalid"       // properties do not fit the collection (the message names each path)
	ErrRecordExists        = "RecordExists"        // a unique value is held by another record
	ErrRecordNotFound      = "RecordNotFound"      // update: no record matches
	ErrCollectionNotFound  = "CollectionNotFound"  // no such collection
	ErrRecordConflict      = "RecordConflict"      // the record kept changing under the write
	ErrRecordStoreMissing  = "RecordStoreMissing"  // the worker runs without --store
	ErrRecordResultTooLong = "RecordResultTooLong" // the records found exceed what a run's history may hold
	// ErrRecordStoreUnavailable is retried: the database did not answer.
	ErrRecordStoreUnavailable = "RecordStoreUnavailable"
)

// RecordWrite is a rendered create, update, upsert or delete: what the
// activity does. Match finds the record by a unique property's value (or
// RecordID by id); IdempotencyKey is the same on every attempt, so a retried
// write returns its first attempt's result instead of writing again.
type RecordWrite struct {
	Collection     string         `json:"collection"`
	RecordID       string         `json:"recordId,omitempty"`
	MatchProperty  string         `json:"matchProperty,omitempty"`
	MatchValue     any            `json:"matchValue,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey"`
}

// RecordQuery is a rendered find.
type RecordQuery struct {
	Collection string         `json:"collection"`
	Filter     map[string]any `json:"filter,omitempty"`
	Sort       string         `json:"sort,omitempty"`
	Limit      int            `json:"limit"`
}

// RecordResult is a record activity's outcome; records are
// {id, collection, properties, version, createdAt, updatedAt}.
type RecordResult struct {
	// Record is the record written (as it was, for a delete), or a find's
	// first; nil when there is none.
	Record  map[string]any   `json:"record"`
	Records []map[string]any `json:"records,omitempty"`
	// Count: a find's matches (all of them), a delete's records removed.
	Count   int  `json:"count"`
	Created bool `json:"created,omitempty"`
	Changed bool `json:"changed,omitempty"`
}
