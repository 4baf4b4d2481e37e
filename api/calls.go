package api

import (
	"context"
	"net/http"

	"github.com/hookflow/hookflow/flow"
)

// checkCalls refuses (422, each error with its path) a flow whose call
// steps name flows the store does not hold, make a cycle (A calls B calls
// A) or chain deeper than flow.MaxCallDepth, checked against the store's
// current versions with f in place of its own.
func (s *Server) checkCalls(ctx context.Context, f *flow.Flow) *Error {
	if len(f.Calls()) == 0 {
		return nil
	}
	flows, err := s.cfg.Admin.Store.List(ctx)
	if err != nil {
		s.log.Error("read flows to check calls", "error", err)
		e := newError(http.StatusServiceUnavailable, "unavailable", "the flow store could not be read to check the flow's calls; retry later")
		e.RetryAfter = "5"
		return e
	}
	byID := make(map[string]*flow.Flow, len(flows))
	for _, sf := range flows {
		byID[sf.ID] = sf.Def
	}
	errs := flow.CheckCalls(f, func(id string) (*flow.Flow, bool) { d, ok := byID[id]; return d, ok })
	if len(errs) == 0 {
		return nil
	}
	e := newError(http.StatusUnprocessableEntity, "invalid_flow", errs[0].Error())
	e.Path, e.Errors = errs[0].Path, errs
	return e
}
