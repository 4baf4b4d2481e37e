package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/namespace"
)

// readyz answers 200 when Temporal answers within a second and the
// namespace holds hookflow's search attributes, 503 naming what does not
// ("namespace": "missing: default", "searchAttributes": "missing:
// HookflowFlowId, ..."; these two appear only while something is missing,
// and once found they are not asked again). A load balancer stops sending
// triggers to a replica that could not start them. A flow store that does
// not answer makes the replica "degraded", still 200: it serves triggers
// from its last snapshot (only admin writes wait for the store), and
// taking every replica out of rotation would stop those too.
func (s *Public) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	if _, err := s.Temporal.CheckHealth(ctx, &sdkclient.CheckHealthRequest{}); err != nil {
		checks["temporal"] = "unreachable"
		ready = false
	} else {
		checks["temporal"] = "ok"
		for k, v := range namespace.NamespaceReadiness(s.Temporal).Check(ctx) {
			checks[k] = v
			ready = false
		}
	}
	status := "ready"
	if s.cfg.Admin != nil && s.cfg.Admin.Store != nil {
		if err := s.cfg.Admin.Store.Ping(ctx); err != nil {
			checks["store"] = "unreachable"
			status = "degraded"
		} else {
			checks["store"] = "ok"
		}
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "checks": checks})
}
