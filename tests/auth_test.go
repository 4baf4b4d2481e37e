//go:build !nodev

package tests

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
)

// Keys for the signature schemes. The signatures below are computed here,
// independently of api/auth.go, from each scheme's published definition.
var (
	swKey       = []byte("standard-webhooks-test-key-32byt")
	swKeyB64    = base64.StdEncoding.EncodeToString(swKey)
	swOldKey    = []byte("an-older-key-being-rotated-out!!")
	swOldKeyB64 = base64.StdEncoding.EncodeToString(swOldKey)
)

func standardWebhooksSig(key []byte, id string, ts int64, body string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func hexHMAC(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

const authFlows = `
id: it-basic
trigger: {auth: {basic: {username: shop, passwordSecret: shop_pw}}}
steps: [{id: s, type: set, values: {x: 1}}]
---
id: it-sw
trigger: {auth: {standardWebhooks: {secret: sw_key}}, idempotencyKey: {header: webhook-id}}
steps: [{id: s, type: set, values: {x: 1}}]
---
id: it-gh
trigger: {auth: {github: {secret: gh_key}}}
steps: [{id: s, type: set, values: {x: 1}}]
---
id: it-hmac
trigger: {auth: {hmac: {secret: hmac_key, header: X-Signature, algorithm: sha512, encoding: base64, prefix: "v0=", timestampHeader: X-Timestamp}}}
steps: [{id: s, type: set, values: {x: 1}}]
---
id: it-missing-secret
trigger: {auth: {github: {secret: not_configured}}}
steps: [{id: s, type: set, values: {x: 1}}]
`

func TestTriggerAuth(t *testing.T) {
	s := setup(t, splitYAML(authFlows)...)
	body := `{"event":"paid"}`
	now := time.Now().Unix()
	stale := now - 6*60

	type tc struct {
		name    string
		flow    string
		headers []string
		status  int
		code    string
		path    string
	}
	basicAuth := func(u, p string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
	}
	hmacSig := func(ts int64, key string) string {
		m := hmac.New(sha512.New, []byte(key))
		fmt.Fprintf(m, "%d.%s", ts, body)
		return "v0=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	swID := func(n int) string { return fmt.Sprintf("msg_%d_%d", now, n) }
	cases := []tc{
		{"basic good", "it-basic", []string{"Authorization", basicAuth("shop", "hunter2-shop")}, 200, "", ""},
		{"basic missing", "it-basic", nil, 401, "unauthorized", "headers.Authorization"},
		{"basic wrong password", "it-basic", []string{"Authorization", basicAuth("shop", "hunter3")}, 401, "unauthorized", "headers.Authorization"},
		{"basic wrong user", "it-basic", []string{"Authorization", basicAuth("shopx", "hunter2-shop")}, 401, "unauthorized", "headers.Authorization"},

		{"standard webhooks good", "it-sw", []string{"webhook-id", swID(1), "webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature", standardWebhooksSig(swKey, swID(1), now, body)}, 200, "", ""},
		{"standard webhooks rotated: old and new key both sent", "it-sw", []string{"webhook-id", swID(2), "webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature", standardWebhooksSig(swOldKey, swID(2), now, body) + " " + standardWebhooksSig(swKey, swID(2), now, body)}, 200, "", ""},
		{"standard webhooks bad", "it-sw", []string{"webhook-id", swID(3), "webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature", standardWebhooksSig(swOldKey, swID(3), now, body)}, 401, "invalid_signature", "headers.webhook-signature"},
		{"standard webhooks signed other id", "it-sw", []string{"webhook-id", swID(4), "webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature", standardWebhooksSig(swKey, "msg_other", now, body)}, 401, "invalid_signature", "headers.webhook-signature"},
		{"standard webhooks stale", "it-sw", []string{"webhook-id", swID(5), "webhook-timestamp", strconv.FormatInt(stale, 10), "webhook-signature", standardWebhooksSig(swKey, swID(5), stale, body)}, 401, "stale_timestamp", "headers.webhook-timestamp"},
		{"standard webhooks from the future", "it-sw", []string{"webhook-id", swID(6), "webhook-timestamp", strconv.FormatInt(now+600, 10), "webhook-signature", standardWebhooksSig(swKey, swID(6), now+600, body)}, 401, "stale_timestamp", "headers.webhook-timestamp"},
		{"standard webhooks unsigned", "it-sw", nil, 401, "missing_signature", "headers.webhook-id"},

		{"github good", "it-gh", []string{"X-Hub-Signature-256", "sha256=" + hexHMAC("gh-webhook-secret", body)}, 200, "", ""},
		{"github bad", "it-gh", []string{"X-Hub-Signature-256", "sha256=" + hexHMAC("other-secret", body)}, 401, "invalid_signature", "headers.X-Hub-Signature-256"},
		{"github malformed", "it-gh", []string{"X-Hub-Signature-256", "md5=abc"}, 401, "invalid_signature", "headers.X-Hub-Signature-256"},
		{"github unsigned", "it-gh", nil, 401, "missing_signature", "headers.X-Hub-Signature-256"},

		{"hmac good", "it-hmac", []string{"X-Timestamp", strconv.FormatInt(now, 10), "X-Signature", hmacSig(now, "generic-hmac-secret")}, 200, "", ""},
		{"hmac bad", "it-hmac", []string{"X-Timestamp", strconv.FormatInt(now, 10), "X-Signature", hmacSig(now, "wrong")}, 401, "invalid_signature", "headers.X-Signature"},
		{"hmac stale", "it-hmac", []string{"X-Timestamp", strconv.FormatInt(stale, 10), "X-Signature", hmacSig(stale, "generic-hmac-secret")}, 401, "stale_timestamp", "headers.X-Timestamp"},
		{"hmac timestamp swapped", "it-hmac", []string{"X-Timestamp", strconv.FormatInt(now, 10), "X-Signature", hmacSig(now-1, "generic-hmac-secret")}, 401, "invalid_signature", "headers.X-Signature"},
		{"hmac no prefix", "it-hmac", []string{"X-Timestamp", strconv.FormatInt(now, 10), "X-Signature", "abc"}, 401, "invalid_signature", "headers.X-Signature"},

		{"secret not configured", "it-missing-secret", []string{"X-Hub-Signature-256", "sha256=" + hexHMAC("x", body)}, 500, "misconfigured", ""},
	}
	started := map[string]int64{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := post(t, s.hookURL(c.flow), "application/json", body, c.headers...)
			require.Equal(t, c.status, a.status, a.body)
			if c.status == 200 {
				require.NotEmpty(t, a.header.Get(api.HeaderExecutionID))
				started[c.flow]++
				return
			}
			require.Equal(t, c.code, a.json(t)["error"])
			require.Empty(t, a.header.Get(api.HeaderExecutionID))
			if c.path != "" {
				require.Equal(t, c.path, a.json(t)["path"])
			}
			if c.status == 401 {
				require.NotEmpty(t, a.header.Get("WWW-Authenticate"))
			}
			require.NotContains(t, a.body, "hunter2", "no secret in an answer")
		})
	}
	// Only the accepted requests started runs.
	for _, f := range []string{"it-basic", "it-sw", "it-gh", "it-hmac", "it-missing-secret"} {
		require.Equal(t, started[f], s.settledCount(f, started[f]), f)
	}
}

// settledCount waits until visibility shows want runs of a flow, lets late
// writes land, and returns the final count.
func (s *stack) settledCount(flowID string, want int64) int64 {
	s.t.Helper()
	if want > 0 {
		s.awaitCount(flowID, want)
	}
	time.Sleep(300 * time.Millisecond)
	return s.count(flowID)
}

// splitYAML splits a multi-document YAML string.
func splitYAML(s string) []string { return strings.Split(s, "\n---\n") }

func basicAuthHeader(u, p string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
}
