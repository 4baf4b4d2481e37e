package admin

import (
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/reference"
)

// schemaDocs are the JSON Schemas of flow, destination and collection
// files by file name, generated once from the same spec types that
// validate them (the files under schemas/ hold the same bytes).
var schemaDocs = sync.OnceValue(func() map[string][]byte {
	out := map[string][]byte{}
	for _, name := range reference.Schemas {
		doc, _ := reference.Schema(name)
		out[name+".json"] = doc
	}
	return out
})

// serveSchema answers GET /api/v1/schemas/{name}. Editors fetch it
// without a key, like openapi.json.
func serveSchema(c *gin.Context) {
	file := c.Param("name")
	doc, ok := schemaDocs()[file]
	if !ok {
		e := httpapi.NewError(http.StatusNotFound, "not_found", "no schema named "+file+": the schemas are "+strings.Join(reference.Schemas, ".json, ")+".json")
		e.Path = "name"
		httpapi.Fail(c, e)
		return
	}
	c.Data(http.StatusOK, "application/schema+json", doc)
}

// serveOpenAPI answers GET /api/v1/openapi.json with the document the API
// was configured with.
func (s *Management) serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", s.cfg.OpenAPI)
}
