package flow

import (
	"strconv"

	"github.com/hookflow/hookflow/flow/field"
)

// The reference (docs/reference), the JSON Schemas (schemas/) and hookflow
// explain are generated from the spec types themselves: each field's json
// and validate tags (the rules Validate runs), a doc tag saying what it is
// for, an expr tag ("template" or "expression") when it is evaluated, and
// the defaults below, which are the constants the code fills in.

// Defaulter is implemented by spec parts whose unset fields take a default
// the code fills in. Paths are relative to the part (retry.initialInterval).
type Defaulter interface {
	FieldDefaults() map[string]any
}

// OutputsDocumenter is implemented by every step spec: what later steps
// read as steps.<id>.outputs, for the reference. A test holds every
// registered step type to it.
type OutputsDocumenter interface {
	OutputsDoc() string
}

// MaxStepNameChars bounds a step's name.
const MaxStepNameChars = 200

func deliveryDefaults() map[string]any {
	return map[string]any{
		"timeouts.connect":         field.Duration(DefaultConnectTimeout),
		"timeouts.response":        field.Duration(DefaultResponseTimeout),
		"retry.initialInterval":    field.Duration(DefaultInitialInterval),
		"retry.backoffCoefficient": DefaultBackoffCoefficient,
		"retry.maximumInterval":    field.Duration(DefaultMaximumInterval),
		"retry.giveUpAfter":        field.Duration(DefaultGiveUpAfter),
	}
}

func recordDefaults(extra map[string]any) map[string]any {
	out := map[string]any{
		"retry.initialInterval":    field.Duration(DefaultRecordInitialInterval),
		"retry.backoffCoefficient": DefaultBackoffCoefficient,
		"retry.maximumInterval":    field.Duration(DefaultRecordMaximumInterval),
		"retry.giveUpAfter":        field.Duration(DefaultRecordGiveUpAfter),
		"onError":                  "fail",
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (*HTTP) FieldDefaults() map[string]any {
	d := deliveryDefaults()
	d["onError"] = "fail"
	return d
}

func (*Destination) FieldDefaults() map[string]any {
	d := deliveryDefaults()
	d["circuitBreaker.failures"] = DefaultBreakerFailures
	d["circuitBreaker.probeInterval"] = field.Duration(DefaultBreakerProbeInterval)
	d["circuitBreaker.window"] = field.Duration(DefaultBreakerWindow)
	d["circuitBreaker.minRequests"] = DefaultBreakerMinRequests
	return d
}

func (*RecordCreate) FieldDefaults() map[string]any { return recordDefaults(nil) }
func (*RecordDelete) FieldDefaults() map[string]any { return recordDefaults(nil) }
func (*RecordUpdate) FieldDefaults() map[string]any { return recordDefaults(nil) }
func (*RecordUpsert) FieldDefaults() map[string]any { return recordDefaults(nil) }
func (*RecordFind) FieldDefaults() map[string]any {
	return recordDefaults(map[string]any{"limit": DefaultRecordFindLimit})
}

func (*Wait) FieldDefaults() map[string]any {
	return map[string]any{"timeout": field.Duration(DefaultWaitTimeout), "onTimeout": "fail"}
}

func (*Approval) FieldDefaults() map[string]any {
	return map[string]any{"timeout": field.Duration(DefaultWaitTimeout), "onTimeout": "reject"}
}

func (*Loop) FieldDefaults() map[string]any {
	return map[string]any{"max": DefaultLoopMax, "concurrency": 1}
}

func (*Call) FieldDefaults() map[string]any {
	return map[string]any{"wait": true, "onError": "fail"}
}

func (*End) FieldDefaults() map[string]any { return map[string]any{"status": "success"} }

func (*Response) FieldDefaults() map[string]any {
	return map[string]any{"status": DefaultResponseStatus}
}

// Ruler is implemented by types whose rules are checked by hand-written
// code rather than validate tags (collections): it returns their rules in
// validate-tag syntax, built from the constants the checks use, keyed by
// path relative to the type (properties.name).
type Ruler interface {
	FieldRules() map[string]string
}

// FieldRules are the rules treeCheck applies to every step's own fields
// (Step decodes itself, so the validator never walks it).
func (*Step) FieldRules() map[string]string {
	return map[string]string{
		"id":   "required,stepid",
		"type": "required",
		"name": "max=" + strconv.Itoa(MaxStepNameChars),
	}
}
