package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hookflow/hookflow/api/httpapi"
)

// Scopes of admin API keys.
const (
	ScopeRead  = "read"  // list and get flows, versions, executions
	ScopeWrite = "write" // change flows, cancel executions, test steps
)

// APIKey is a bearer key for the admin API.
type APIKey struct {
	Name   string
	Key    string
	Scopes []string
}

// ParseAPIKeys reads "name:scope[,scope]:key" entries separated by ";", as
// in HOOKFLOW_API_KEYS="ops:read,write:sk_live_...;ci:read:sk_ci_...".
func ParseAPIKeys(s string) ([]APIKey, error) {
	var out []APIKey
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(entry, ":")
		scopes, key, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || name == "" || len(key) < 16 {
			return nil, fmt.Errorf("API key %q: want name:scope[,scope]:key with a key of at least 16 characters", name)
		}
		k := APIKey{Name: name, Key: key}
		for _, sc := range strings.Split(scopes, ",") {
			if sc != ScopeRead && sc != ScopeWrite {
				return nil, fmt.Errorf("API key %q: unknown scope %q (read, write)", name, sc)
			}
			k.Scopes = append(k.Scopes, sc)
		}
		out = append(out, k)
	}
	return out, nil
}

type hashedKey struct {
	name   string
	sum    [32]byte
	scopes []string
}

// requireScope authenticates the bearer key (401 without a valid one) and
// checks its scope (403). Keys are compared as digests in constant time,
// against every configured key.
func (s *Management) requireScope(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		auth := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			e := httpapi.NewError(http.StatusUnauthorized, "unauthorized", "send an API key: Authorization: Bearer <key>")
			e.WWWAuthenticate = `Bearer realm="hookflow"`
			httpapi.Fail(c, e)
			return
		}
		sum := sha256.Sum256([]byte(token))
		var found *hashedKey
		for i := range s.keys {
			if subtle.ConstantTimeCompare(sum[:], s.keys[i].sum[:]) == 1 {
				found = &s.keys[i]
			}
		}
		if found == nil {
			e := httpapi.NewError(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
			e.WWWAuthenticate = `Bearer realm="hookflow", error="invalid_token"`
			httpapi.Fail(c, e)
			return
		}
		if !slices.Contains(found.scopes, scope) {
			httpapi.Fail(c, httpapi.NewError(http.StatusForbidden, "forbidden", fmt.Sprintf("the API key %q lacks the %s scope", found.name, scope)))
			return
		}
		c.Next()
	}
}
