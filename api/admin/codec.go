package admin

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hookflow/hookflow/api/httpapi"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// CodecEndpoint serves Temporal's remote codec protocol (POST
// /codec/encode and /codec/decode, bodies {"payloads":[...]} in protojson),
// so the Temporal Web UI and CLI show encrypted payloads decoded.
type CodecEndpoint struct {
	Codec converter.PayloadCodec
	// AllowOrigins are the Web UI origins a browser may call from (CORS),
	// such as https://temporal.example.com.
	AllowOrigins []string
	// Anonymous serves without an API key. Only for a UI on loopback
	// (hookflow dev) or behind a proxy that authenticates its users:
	// whoever reaches the endpoint can decrypt.
	Anonymous bool
}

// maxCodecBody bounds a codec request: a page of a history's payloads.
const maxCodecBody = 16 << 20

func (s *Management) codecRoutes(r *gin.Engine) {
	cfg := s.cfg.Codec
	g := r.Group("/codec", codecCORS(cfg.AllowOrigins))
	// Preflight requests carry no credentials: the CORS middleware answers
	// them (204) before any auth; these routes only make them match.
	preflight := func(*gin.Context) {}
	g.OPTIONS("/encode", preflight)
	g.OPTIONS("/decode", preflight)
	var auth []gin.HandlerFunc
	if !cfg.Anonymous {
		auth = append(auth, s.requireScope(ScopeRead))
	}
	g.POST("/encode", append(auth, s.codec(cfg.Codec.Encode))...)
	g.POST("/decode", append(auth, s.codec(cfg.Codec.Decode))...)
}

func (s *Management) codec(op func([]*commonpb.Payload) ([]*commonpb.Payload, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCodecBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				httpapi.Fail(c, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", "the body exceeds 16 MiB; send fewer payloads at once"))
				return
			}
			httpapi.Fail(c, httpapi.NewError(http.StatusBadRequest, "bad_request", "the body could not be read"))
			return
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(raw, &in); err != nil {
			e := httpapi.NewError(http.StatusBadRequest, "malformed_json", `the body must be {"payloads":[{"metadata":{...},"data":"<base64>"}]}: `+err.Error())
			e.Path = "payloads"
			httpapi.Fail(c, e)
			return
		}
		out, err := op(in.Payloads)
		if err != nil {
			httpapi.Fail(c, httpapi.NewError(http.StatusUnprocessableEntity, "codec_error", err.Error()))
			return
		}
		b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.Data(http.StatusOK, "application/json", b)
	}
}

// codecCORS lets the Web UI's origins call the codec from a browser. The UI
// sends X-Namespace, and Authorization when it passes its access token;
// with credentials included, the origin must be echoed, never "*".
func codecCORS(origins []string) gin.HandlerFunc {
	allowed := make([]string, len(origins))
	for i, o := range origins {
		allowed[i] = strings.TrimSuffix(o, "/")
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		if origin := c.GetHeader("Origin"); origin != "" && slices.Contains(allowed, origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
		}
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusNoContent)
		}
	}
}
