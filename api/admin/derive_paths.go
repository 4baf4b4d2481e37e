package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow/trigger"
)

// parseRequest is the body of POST /api/v1/parse: an example body or an
// example URL, exactly one.
type parseRequest struct {
	Body json.RawMessage `json:"body"`
	URL  string          `json:"url"`
	// Capture is a captured test event's id (POST /flows/{id}/capture).
	Capture string `json:"capture"`
}

// derivePaths handles POST /api/v1/parse: the paths a parse rule can use,
// derived from an example ({"a":1,"b":{"c":2}} gives a, b, b.c; a URL's
// query ?a[0].b=1 gives a, a.0, a.0.b).
func (s *Management) derivePaths(c *gin.Context) {
	var req parseRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusBadRequest, "malformed_json", "send {\"body\": <example JSON>} or {\"url\": \"<example URL>\"}: "+err.Error()))
		return
	}
	hasBody := len(bytes.TrimSpace(req.Body)) > 0 && string(bytes.TrimSpace(req.Body)) != "null"
	if req.Capture != "" && !hasBody && req.URL == "" {
		s.capturePaths(c, req.Capture)
		return
	}
	if hasBody == (req.URL != "") || req.Capture != "" {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "send exactly one of body, url or capture")
		e.Path = "body"
		httpapi.Fail(c, e)
		return
	}
	if hasBody {
		var v any
		if err := json.Unmarshal(req.Body, &v); err != nil {
			e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "body is not valid JSON")
			e.Path = "body"
			httpapi.Fail(c, e)
			return
		}
		c.JSON(http.StatusOK, gin.H{"source": "body", "paths": nonNil(trigger.DerivePaths(v))})
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "url is not a URL: "+err.Error())
		e.Path = "url"
		httpapi.Fail(c, e)
		return
	}
	q, err := trigger.NestQuery(u.Query())
	if err != nil {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", err.Error())
		e.Path = "url"
		httpapi.Fail(c, e)
		return
	}
	c.JSON(http.StatusOK, gin.H{"source": "query", "paths": nonNil(trigger.DerivePaths(q))})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
