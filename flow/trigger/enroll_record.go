package trigger

import (
	"errors"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// EnrollRecord enrolls a request only when a record exists: the record of
// Collection whose unique Property holds Value (a template over trigger,
// such as "{{ trigger.body.email }}"), as HubSpot's webhook trigger enrolls
// an existing contact. The API looks it up before starting the run; with no
// such record nothing starts and the caller gets the enroll response; with
// one, the run starts with it as trigger.record (a snapshot in the run's
// input).
type EnrollRecord struct {
	Collection string `json:"collection" validate:"required" doc:"The collection to look in."`
	Property   string `json:"property" validate:"required" doc:"A unique property of the collection."`
	Value      string `json:"value" validate:"required,max=4096" doc:"The value the record must hold: a template over trigger, such as {{ trigger.body.email }}." expr:"template"`
}

// EnvRecord is the key of trigger data holding the enrolled record.
const EnvRecord = "record"

func (r *EnrollRecord) check(t *Trigger, errs *field.List) {
	if p := t.Parse; p != nil {
		for _, part := range []struct {
			name   string
			fields []ParseField
		}{{"headers", p.Headers}, {"query", p.Query}, {"body", p.Body}} {
			for i, f := range part.fields {
				if f.aliasOf() == EnvRecord {
					errs.Add(field.IndexPath("trigger.parse."+part.name, i)+".alias", "trigger.record holds the enrolled record (trigger.enroll.record); choose another alias")
				}
			}
		}
	}
	if r.Collection != "" && !field.IsCollectionName(r.Collection) {
		errs.Add("trigger.enroll.record.collection", "must be a collection's name: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters")
	}
	if r.Property != "" && !field.IsIdentifier(r.Property) {
		errs.Add("trigger.enroll.record.property", "must be a property name: letters, digits and _, not starting with a digit")
	}
	if !expression.IsTemplate(r.Value) {
		return
	}
	srcs, err := expression.TemplateExpressions(r.Value)
	if err != nil {
		errs.Add("trigger.enroll.record.value", "%v", err)
		return
	}
	for _, src := range srcs {
		if _, err := expression.CompileTrigger(src); err != nil {
			errs.Add("trigger.enroll.record.value", "expression `%s`: %s", src, field.FirstLine(err.Error()))
		}
	}
}

// EvalValue renders Value on a request's trigger data. A template that is
// exactly one expression keeps its type; a missing value (null or an empty
// string) is an error, so that no lookup matches on nothing.
func (r *EnrollRecord) EvalValue(trigger map[string]any) (any, error) {
	out, err := expression.RenderTrigger(r.Value, trigger)
	if err != nil {
		return nil, err
	}
	if out == nil || out == "" {
		return nil, errors.New("the value is empty")
	}
	return out, nil
}
