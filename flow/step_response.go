package flow

import (
	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// TypeResponse gives a sync trigger's caller its answer.
const TypeResponse = "response"

// Response is the answer to a sync trigger's caller. The first response step
// that runs answers; the flow goes on after it. Headers and body may hold
// templates.
//
//	{id: reply, type: response, status: 201, body: {tracking: "{{ steps.ship.outputs.trackingId }}"}}
//
// A string body is sent as text/plain, anything else as JSON, unless the
// headers set Content-Type.
type Response struct {
	Status  int               `json:"status,omitempty" validate:"omitempty,min=100,max=599" doc:"HTTP status of the answer."`
	Headers map[string]string `json:"headers,omitempty" validate:"max=50,dive,keys,header,endkeys,max=8192" doc:"Headers of the answer." expr:"template"`
	Body    any               `json:"body,omitempty" doc:"Body of the answer: a string is sent as text/plain, anything else as JSON, unless the headers set Content-Type. Strings may be templates." expr:"template"`
}

func init() {
	Register[Response](TypeResponse, "answer a sync trigger's caller")
}

var (
	_ Spec     = (*Response)(nil)
	_ SyncOnly = (*Response)(nil)
)

// SyncOnlyReason: an async trigger's caller has its answer before the flow
// runs.
func (r *Response) SyncOnlyReason() string {
	return "a response step needs a sync trigger (trigger.mode: sync); an async trigger has already answered"
}

func (r *Response) Expressions() []ExprField {
	var out []ExprField
	for _, k := range SortedKeys(r.Headers) {
		if expression.IsTemplate(r.Headers[k]) {
			out = append(out, ExprField{Path: field.JoinPath("headers", k), Source: r.Headers[k]})
		}
	}
	return append(out, ValueTemplates("body", r.Body)...)
}

// DefaultResponseStatus is a response step's status when it sets none.
const DefaultResponseStatus = 200

// EffectiveStatus is the status, DefaultResponseStatus when unset.
func (r *Response) EffectiveStatus() int {
	if r.Status == 0 {
		return DefaultResponseStatus
	}
	return r.Status
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Response) OutputsDoc() string {
	return "`status`"
}
