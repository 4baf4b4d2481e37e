package activities

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Request signatures for outbound deliveries. Each signs the exact bytes
// sent; receivers verify with the same secret.

// hubSpotV1 is hex(sha256(secret + body)), sent as X-HubSpot-Signature.
func hubSpotV1(secret, body []byte) string {
	h := sha256.New()
	h.Write(secret)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// hubSpotV2 is hex(sha256(secret + method + URI + body)).
func hubSpotV2(secret []byte, method, uri string, body []byte) string {
	h := sha256.New()
	h.Write(secret)
	h.Write([]byte(method + uri))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// hubSpotV3 is base64(HMAC-SHA256(secret, method + URI + body + timestamp)),
// sent as X-HubSpot-Signature-v3 with X-HubSpot-Request-Timestamp (Unix ms).
func hubSpotV3(secret []byte, method, uri string, body []byte, ts time.Time) (sig, timestamp string) {
	timestamp = strconv.FormatInt(ts.UnixMilli(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(method + uri))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), timestamp
}

// standardWebhooks is "v1," + base64(HMAC-SHA256(key, id.timestamp.body)),
// the key being the base64 part of a "whsec_..." secret.
func standardWebhooks(secret []byte, id string, body []byte, ts time.Time) (sig, timestamp string) {
	key := []byte(strings.TrimPrefix(string(secret), "whsec_"))
	if k, err := base64.StdEncoding.DecodeString(string(key)); err == nil {
		key = k
	}
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), timestamp
}
