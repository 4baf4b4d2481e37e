package api

import (
	_ "embed"

	"github.com/hookflow/hookflow/api/httpapi"
)

// openAPI is the OpenAPI 3 document of the whole API (openapi.json, kept in
// the repository; a test checks that every route is in it). The admin API
// serves it (admin.Config.OpenAPI).
//
//go:embed openapi.json
var openAPI []byte

// documentedQueryParams lists the query parameters each route takes, by
// "METHOD /path/{param}": those openapi.json names for it.
var documentedQueryParams = httpapi.QueryParamsOf(openAPI)
