// Package records is collections and records: a collection's typed
// definition and its rules (decoding, validation, the coercion and unique
// keys of a record's properties), the persistence of both on the store's
// one handle (Store, one per store.Store: Of), the record lookup of a
// trigger's enrollment that answers from memory while the database is
// slow, and Find's SQL from a pure builder (query.go, unit-tested for
// both dialects). The admin API's collection routes (api/admin/collections.go)
// and the record steps' activities (activities/records.go) call it.
package records
