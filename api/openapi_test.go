package api

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/flow"
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
	param := regexp.MustCompile(`:(\w+)`)
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
