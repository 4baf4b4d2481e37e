package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
)

// flowKeysAPI: a flow's flow-control keys (package flowcontrol), read from
// their coordinators: what runs, what waits, the next throttle slot.
type flowKeysAPI struct{ *adminCore }

// maxKeysListed bounds the keys a page reads (one query each).
const maxKeysListed = 200

func (s *flowKeysAPI) routes(v1 *gin.RouterGroup, read gin.HandlerFunc) {
	v1.GET("/flows/:id/keys", read, s.listKeys)
	v1.GET("/flows/:id/keys/*key", read, s.getKey)
}

// getKey handles GET /api/v1/flows/{id}/keys/{key}: one key's state. A key
// with no coordinator is idle (nothing running or waiting). The flow's one
// key (no key template) is /keys/ with nothing after the slash.
func (s *flowKeysAPI) getKey(c *gin.Context) {
	flowID, key := c.Param("id"), strings.TrimPrefix(c.Param("key"), "/")
	v, err := s.keyView(c.Request.Context(), contract.CoordinatorID(flowID, key))
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		c.JSON(http.StatusOK, contract.KeyView{FlowID: flowID, Key: key, Running: []string{}})
	case err != nil:
		httpapi.Fail(c, s.TemporalError(err))
	default:
		c.JSON(http.StatusOK, v)
	}
}

func (s *flowKeysAPI) keyView(ctx context.Context, coordinatorID string) (contract.KeyView, error) {
	var v contract.KeyView
	q, err := s.Temporal.QueryWorkflow(ctx, coordinatorID, "", contract.QueryKey)
	if err == nil {
		err = q.Get(&v)
	}
	return v, err
}

// listKeys handles GET /api/v1/flows/{id}/keys: the flow's open keys, the
// ones with the most waiting first (at most maxKeysListed are read).
func (s *flowKeysAPI) listKeys(c *gin.Context) {
	ctx := c.Request.Context()
	flowID := c.Param("id")
	resp, err := s.listPage(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"Running\" AND WorkflowId STARTS_WITH %q",
			contract.CoordinatorWorkflowName, contract.CoordinatorID(flowID, "")),
		PageSize: maxKeysListed,
	})
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	keys := []contract.KeyView{}
	for _, ex := range resp.GetExecutions() {
		v, err := s.keyView(ctx, ex.GetExecution().GetWorkflowId())
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			continue // closed since it was listed: idle
		}
		if err != nil {
			httpapi.Fail(c, s.TemporalError(err))
			return
		}
		keys = append(keys, v)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].Waiting != keys[j].Waiting {
			return keys[i].Waiting > keys[j].Waiting
		}
		return keys[i].Key < keys[j].Key
	})
	c.JSON(http.StatusOK, gin.H{"flowId": flowID, "keys": keys, "truncated": len(resp.GetNextPageToken()) > 0})
}
