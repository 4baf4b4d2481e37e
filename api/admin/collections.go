package admin

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// collectionRoutes are the collections and records of the admin API: read
// scope for reads, write scope for writes.
func (s *collectionsAPI) routes(v1 *gin.RouterGroup, read, write gin.HandlerFunc) {
	v1.GET("/collections", read, s.listCollections)
	v1.POST("/collections", write, s.createCollection)
	v1.GET("/collections/:name", read, s.getCollection)
	v1.PUT("/collections/:name", write, s.updateCollection)
	v1.DELETE("/collections/:name", write, s.deleteCollection)
	v1.GET("/collections/:name/records", read, s.listRecords)
	v1.POST("/collections/:name/records", write, s.createRecord)
	v1.GET("/collections/:name/records/:id", read, s.getRecord)
	v1.PATCH("/collections/:name/records/:id", write, s.writeRecord(records.OpUpdate))
	v1.PUT("/collections/:name/records/:id", write, s.writeRecord(records.OpReplace))
	v1.DELETE("/collections/:name/records/:id", write, s.deleteRecord)
	v1.GET("/collections/:name/records/by/:property/:value", read, s.getRecord)
	v1.PUT("/collections/:name/records/by/:property/:value", write, s.upsertRecord)
}

// recordError maps the store's record and collection errors to answers:
// properties that do not fit 422 with every path, a unique value taken 409
// naming the property, records that break a collection change 409.
func recordError(err error) *httpapi.Error {
	var ie *records.InvalidError
	var ue *records.UniqueError
	var fit *records.RecordsDoNotFitError
	switch {
	case errors.As(err, &ie):
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_"+ie.What, ie.Errors[0].Error())
		e.Path, e.Errors = ie.Errors[0].Path, ie.Errors
		return e
	case errors.As(err, &ue):
		e := httpapi.NewError(http.StatusConflict, "unique_conflict", err.Error())
		e.Path = "properties." + ue.Property
		return e
	case errors.As(err, &fit):
		e := httpapi.NewError(http.StatusConflict, "records_do_not_fit", err.Error()+"; change or delete those records first")
		e.Errors = fit.Errors
		if len(fit.Errors) > 0 {
			e.Path = fit.Errors[0].Path
		}
		return e
	case errors.Is(err, store.ErrConflict):
		return httpapi.NewError(http.StatusPreconditionFailed, "precondition_failed", err.Error()+"; GET it and retry with its ETag")
	}
	return storeError(err)
}

func (s *collectionsAPI) failRecord(c *gin.Context, err error) { s.failWith(c, recordError(err), err) }

// readDefinitionBody reads a definition people may write as YAML: JSON, or
// YAML with Content-Type application/yaml (415 otherwise), within the size
// limit. what names it in errors ("collection").
func (s *adminCore) readDefinitionBody(c *gin.Context, what string) ([]byte, bool, *httpapi.Error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	raw, e := s.readAdminBody(c, "a "+what)
	if e != nil {
		return nil, false, e
	}
	switch mt {
	case "application/json", "":
		return raw, false, nil
	case "application/yaml", "application/x-yaml", "text/yaml":
		return raw, true, nil
	}
	e = httpapi.NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the "+what+" as application/json or application/yaml")
	e.Path = "headers.Content-Type"
	return nil, false, e
}

// readBody reads an admin request's body within the size limit.
func (s *adminCore) readAdminBody(c *gin.Context, what string) ([]byte, *httpapi.Error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("%s is limited to %d bytes", what, s.cfg.MaxBodyBytes))
	}
	return raw, nil
}

// readCollection decodes a collection definition: JSON, or YAML with
// Content-Type application/yaml. Invalid: 422 with every error.
func (s *collectionsAPI) readCollection(c *gin.Context) (*records.Collection, *httpapi.Error) {
	raw, yamlDoc, e := s.readDefinitionBody(c, "collection")
	if e != nil {
		return nil, e
	}
	col, err := records.DecodeCollection(raw, yamlDoc)
	if err != nil {
		return nil, recordError(err)
	}
	return col, nil
}

func (s *collectionsAPI) listCollections(c *gin.Context) {
	cols, err := records.Of(s.cfg.Admin.Store).ListCollections(c.Request.Context())
	if err != nil {
		s.failRecord(c, err)
		return
	}
	if cols == nil {
		cols = []*records.Collection{}
	}
	c.JSON(http.StatusOK, gin.H{"collections": cols})
}

func (s *collectionsAPI) createCollection(c *gin.Context) {
	col, e := s.readCollection(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	got, err := records.Of(s.cfg.Admin.Store).CreateCollection(c.Request.Context(), col)
	if err != nil {
		s.failRecord(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.Header("Location", "/api/v1/collections/"+got.Name)
	c.JSON(http.StatusCreated, got)
}

func (s *collectionsAPI) getCollection(c *gin.Context) {
	got, err := records.Of(s.cfg.Admin.Store).GetCollection(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.failRecord(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.JSON(http.StatusOK, got)
}

// collectionResource is a collection as an update answers it: changed is
// false when the definition was unchanged (no version).
type collectionResource struct {
	*records.Collection
	Changed bool `json:"changed"`
}

func (s *collectionsAPI) updateCollection(c *gin.Context) {
	version, e := ifMatch(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	col, e := s.readCollection(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if col.Name != c.Param("name") {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_collection", fmt.Sprintf("the definition's name %q differs from the URL's %q", col.Name, c.Param("name")))
		e.Path = "name"
		httpapi.Fail(c, e)
		return
	}
	got, changed, err := records.Of(s.cfg.Admin.Store).UpdateCollection(c.Request.Context(), col, version)
	if err != nil {
		s.failRecord(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.JSON(http.StatusOK, collectionResource{Collection: got, Changed: changed})
}

func (s *collectionsAPI) deleteCollection(c *gin.Context) {
	if err := records.Of(s.cfg.Admin.Store).DeleteCollection(c.Request.Context(), c.Param("name")); err != nil {
		s.failRecord(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// recordRef is the record a URL names: /records/{id}, or
// /records/by/{property}/{value}.
func recordRef(c *gin.Context) records.RecordRef {
	if p := c.Param("property"); p != "" {
		return records.RecordRef{Property: p, Value: c.Param("value")}
	}
	return records.RecordRef{ID: c.Param("id")}
}

func recordLocation(r *records.Record) string {
	return "/api/v1/collections/" + r.Collection + "/records/" + url.PathEscape(r.ID)
}

// readProperties decodes a record write's body: {"properties": {...}}.
func (s *collectionsAPI) readProperties(c *gin.Context) (map[string]any, *httpapi.Error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "application/json" && mt != "" {
		e := httpapi.NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the record as application/json")
		e.Path = "headers.Content-Type"
		return nil, e
	}
	raw, e := s.readAdminBody(c, "a record")
	if e != nil {
		return nil, e
	}
	props, errs, err := records.DecodeWrite(raw)
	if err != nil {
		return nil, httpapi.NewError(http.StatusBadRequest, "malformed_json", err.Error())
	}
	if len(errs) > 0 {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_record", errs[0].Error())
		e.Path, e.Errors = errs[0].Path, errs
		return nil, e
	}
	return props, nil
}

// recordPage is one page of a collection's records.
type recordPage struct {
	Records       []*records.Record `json:"records"`
	NextPageToken string            `json:"nextPageToken"`
}

func (s *collectionsAPI) listRecords(c *gin.Context) {
	q, fe := records.ListQuery(c.Query("pageSize"), c.Query("nextPageToken"), c.Query("filter"))
	if fe != nil {
		e := httpapi.NewError(http.StatusBadRequest, "bad_request", fe.Message)
		e.Path = fe.Path
		httpapi.Fail(c, e)
		return
	}
	page, err := records.Of(s.cfg.Admin.Store).Find(c.Request.Context(), c.Param("name"), q)
	if err != nil {
		var ie *records.InvalidError
		if errors.As(err, &ie) {
			// Paths of the query's parts: query.filter.<name>, query.nextPageToken.
			for i := range ie.Errors {
				p := ie.Errors[i].Path
				if p == "pageToken" {
					p = "nextPageToken"
				}
				ie.Errors[i].Path = "query." + p
			}
		}
		s.failRecord(c, err)
		return
	}
	c.JSON(http.StatusOK, recordPage{Records: page.Records, NextPageToken: page.Next})
}

func (s *collectionsAPI) createRecord(c *gin.Context) {
	props, e := s.readProperties(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	res, err := records.Of(s.cfg.Admin.Store).Write(c.Request.Context(), records.Write{Op: records.OpCreate, Collection: c.Param("name"), Properties: props})
	if err != nil {
		s.failRecord(c, err)
		return
	}
	c.Header("ETag", etag(res.Record.Version))
	c.Header("Location", recordLocation(res.Record))
	c.JSON(http.StatusCreated, res.Record)
}

func (s *collectionsAPI) getRecord(c *gin.Context) {
	rec, err := records.Of(s.cfg.Admin.Store).Get(c.Request.Context(), c.Param("name"), recordRef(c))
	if err != nil {
		s.failRecord(c, urlPaths(err))
		return
	}
	c.Header("ETag", etag(rec.Version))
	c.JSON(http.StatusOK, rec)
}

// writeRecord updates (PATCH: merge, null removes a property) or replaces
// (PUT) a record; If-Match makes it conditional on the record's version.
func (s *collectionsAPI) writeRecord(op string) gin.HandlerFunc {
	return func(c *gin.Context) {
		version, e := ifMatch(c)
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		props, e := s.readProperties(c)
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		res, err := records.Of(s.cfg.Admin.Store).Write(c.Request.Context(), records.Write{Op: op, Collection: c.Param("name"), Ref: recordRef(c), Properties: props, IfVersion: version})
		if err != nil {
			s.failRecord(c, urlPaths(err))
			return
		}
		c.Header("ETag", etag(res.Record.Version))
		c.JSON(http.StatusOK, res.Record)
	}
}

// upsertRecord merges properties into the record whose unique property
// holds the value (200), or creates it with that value (201).
func (s *collectionsAPI) upsertRecord(c *gin.Context) {
	props, e := s.readProperties(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	ref := recordRef(c)
	res, err := records.Of(s.cfg.Admin.Store).Write(c.Request.Context(), records.Write{Op: records.OpUpsert, Collection: c.Param("name"), Ref: ref, Properties: props})
	if err != nil {
		s.failRecord(c, urlPaths(err))
		return
	}
	c.Header("ETag", etag(res.Record.Version))
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		c.Header("Location", recordLocation(res.Record))
	}
	c.JSON(status, res.Record)
}

func (s *collectionsAPI) deleteRecord(c *gin.Context) {
	version, e := ifMatch(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if _, err := records.Of(s.cfg.Admin.Store).Write(c.Request.Context(), records.Write{Op: records.OpDelete, Collection: c.Param("name"), Ref: recordRef(c), IfVersion: version}); err != nil {
		s.failRecord(c, urlPaths(err))
		return
	}
	c.Status(http.StatusNoContent)
}

// urlPaths names the URL's parts in a store error's paths: the property and
// value a record is found by are path.property and path.value.
func urlPaths(err error) error {
	var ie *records.InvalidError
	if errors.As(err, &ie) {
		for i := range ie.Errors {
			if slices.Contains([]string{"property", "value"}, ie.Errors[i].Path) {
				ie.Errors[i].Path = "path." + ie.Errors[i].Path
			}
		}
	}
	return err
}
