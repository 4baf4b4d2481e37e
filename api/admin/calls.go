package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// checkCalls refuses (422, each error with its path) a flow whose call
// steps name flows the store does not hold, make a cycle (A calls B calls
// A) or chain deeper than flow.MaxCallDepth, checked against the store's
// current versions with f in place of its own.
// callersOf lists the stored flows that call id, with the path of each call.
func (s *Management) callersOf(ctx context.Context, id string) ([]string, error) {
	flows, err := s.cfg.Admin.Store.Flows().List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sf := range flows {
		for _, cs := range sf.Def.Calls() {
			if cs.Callee == id && sf.ID != id {
				out = append(out, fmt.Sprintf("%s (%s)", sf.ID, cs.Path))
			}
		}
	}
	return out, nil
}

func (s *Management) checkCalls(ctx context.Context, f *flow.Flow) *httpapi.Error {
	if len(f.Calls()) == 0 {
		return nil
	}
	flows, err := s.cfg.Admin.Store.Flows().List(ctx)
	if err != nil {
		s.Log.Error("read flows to check calls", "error", err)
		e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the flow store could not be read to check the flow's calls; retry later")
		e.RetryAfter = "5"
		return e
	}
	byID := make(map[string]*flow.Flow, len(flows))
	for _, sf := range flows {
		byID[sf.ID] = sf.Def
	}
	lookup := func(id string) (*flow.Flow, bool) {
		if id == f.ID {
			return f, true
		}
		d, ok := byID[id]
		return d, ok
	}
	errs := flow.CheckCalls(f, lookup)
	// The flows that call this one see its new calls too: a chain through
	// it must not turn into a cycle or grow past the depth bound. Only what
	// this change breaks is reported.
	stored := func(id string) (*flow.Flow, bool) { d, ok := byID[id]; return d, ok }
	for _, id := range flow.SortedKeys(byID) {
		if id == f.ID {
			continue
		}
		before := map[string]bool{}
		for _, ce := range flow.CheckCalls(byID[id], stored) {
			before[ce.Error()] = true
		}
		for _, ce := range flow.CheckCalls(byID[id], lookup) {
			if !before[ce.Error()] {
				errs = append(errs, field.Error{Path: "steps", Message: fmt.Sprintf("flow %q calls this flow; with this change its call at %s: %s", id, ce.Path, ce.Message)})
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_flow", errs[0].Error())
	e.Path, e.Errors = errs[0].Path, errs
	return e
}
