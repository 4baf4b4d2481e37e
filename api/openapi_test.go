package api

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/reference"
	"github.com/hookflow/hookflow/telemetry"
)

// Every route the server registers is described in openapi.json, and every
// path there is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                            `json:"openapi"`
		Paths   map[string]map[string]interface{} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))

	cat, err := flow.NewCatalog()
	require.NoError(t, err)
	cdc, err := codec.Parse("k:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	require.NoError(t, err)
	s := New(nil, cat, slog.New(slog.DiscardHandler), Config{
		Admin: &Admin{}, Codec: &CodecEndpoint{Codec: cdc}, Telemetry: telemetry.New(telemetry.Options{}),
	})
	engine := s.Handler().(*gin.Engine)
	param := regexp.MustCompile(`[:*](\w+)`) // :name, and *name (a catch-all)
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		served[path+" "+strings.ToLower(r.Method)] = true
		ops, ok := doc.Paths[path]
		require.True(t, ok, "route %s %s is not in openapi.json", r.Method, path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "route %s %s is not in openapi.json", r.Method, path)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			require.True(t, served[path+" "+method], "openapi.json describes %s %s, which is not served", method, path)
		}
	}
}

// The management API refuses query parameters a route does not list in
// openapi.json, naming each; trigger URLs take any query (flows parse it).
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	cat, err := flow.NewCatalog()
	require.NoError(t, err)
	keys, err := ParseAPIKeys("ops:read,write:sk_unit_test_0123456789")
	require.NoError(t, err)
	h := New(nil, cat, slog.New(slog.DiscardHandler), Config{Admin: &Admin{}, APIKeys: keys}).Handler()
	call := func(method, target string) (int, Error) {
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("Authorization", "Bearer sk_unit_test_0123456789")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var e Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e
	}

	code, e := call("GET", "/api/v1/flows/x/executions?pageSize=5&pagetoken=abc")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "unknown_parameter", e.Code)
	require.Equal(t, "query.pagetoken", e.Path)
	require.Contains(t, e.Detail, `"pagetoken"`)
	require.Contains(t, e.Detail, "status, pageSize, nextPageToken, pageToken", "the detail lists what the route takes")

	code, e = call("GET", "/api/v1/flows?b=1&a=2")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "query.a", e.Path)
	require.Equal(t, []field.Error{{Path: "query.a", Message: "unknown query parameter"}, {Path: "query.b", Message: "unknown query parameter"}}, e.Errors)
	require.Contains(t, e.Detail, "takes none")

	code, e = call("POST", "/api/v1/executions/x/cancel?force=true")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "query.force", e.Path)

	code, e = call("POST", "/hooks/no-such-token-0000000000000?anything=1")
	require.Equal(t, http.StatusNotFound, code, "trigger URLs take any query")
	require.Equal(t, "not_found", e.Code)
}

// The JSON Schemas are served, without a key, as the generator writes
// them; an unknown name is a 404 naming the path parameter.
func TestSchemasAreServedAndAnUnknownOneIsA404WithAPath(t *testing.T) {
	cat, err := flow.NewCatalog()
	require.NoError(t, err)
	s := New(nil, cat, slog.New(slog.DiscardHandler), Config{Admin: &Admin{}})
	h := s.Handler()
	for _, name := range reference.Schemas {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/schemas/"+name+".json", nil))
		require.Equal(t, http.StatusOK, rec.Code, name)
		require.Equal(t, "application/schema+json", rec.Header().Get("Content-Type"))
		want, _ := reference.Schema(name)
		require.Equal(t, string(want), rec.Body.String())
		var doc map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
	}
	for _, path := range []string{"/api/v1/schemas/step.json", "/api/v1/schemas/flow", "/api/v1/schemas/flow.yaml"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusNotFound, rec.Code, path)
		var e Error
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Equal(t, "not_found", e.Code)
		require.Equal(t, "name", e.Path)
		require.Contains(t, e.Detail, "flow.json")
	}
}
