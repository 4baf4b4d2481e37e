package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/secrets"
)

// Standard Webhooks header names (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
	HeaderGitHubSignature  = "X-Hub-Signature-256"
)

// triggerAuth checks a trigger request's own auth (basic, Standard
// Webhooks, GitHub, HMAC). It holds only the secrets it compares with and
// the log, where a missing secret is named (never its value).
type triggerAuth struct {
	secrets secrets.Provider
	log     *slog.Logger
}

// errMisconfigured marks an auth failure that is the operator's (a secret
// the API cannot resolve), not the caller's.
var errMisconfigured = errors.New("trigger auth misconfigured")

// checkBasic verifies HTTP basic auth before the body is read. It compares
// digests in constant time, and always compares both parts, so neither the
// length nor the correctness of either leaks through timing.
func (s *triggerAuth) checkBasic(ctx context.Context, r *http.Request, a *trigger.BasicAuth) *httpapi.Error {
	user, pass, ok := r.BasicAuth()
	want, err := s.secrets.Secret(ctx, a.PasswordSecret)
	if err != nil {
		return s.misconfigured(a.PasswordSecret, err)
	}
	uh, wuh := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(a.Username))
	ph, wph := sha256.Sum256([]byte(pass)), sha256.Sum256(want)
	good := subtle.ConstantTimeCompare(uh[:], wuh[:]) & subtle.ConstantTimeCompare(ph[:], wph[:])
	if !ok || good != 1 {
		e := httpapi.NewError(http.StatusUnauthorized, "unauthorized", "missing or wrong credentials")
		e.WWWAuthenticate = `Basic realm="hookflow", charset="UTF-8"`
		e.Path = "headers.Authorization"
		return e
	}
	return nil
}

// checkSignature verifies a signed request against the raw body.
func (s *triggerAuth) checkSignature(ctx context.Context, r *http.Request, body []byte, a *trigger.TriggerAuth, now time.Time) *httpapi.Error {
	switch {
	case a.StandardWebhooks != nil:
		return s.checkStandardWebhooks(ctx, r, body, a.StandardWebhooks, now)
	case a.GitHub != nil:
		return s.checkGitHub(ctx, r, body, a.GitHub)
	case a.HMAC != nil:
		return s.checkHMAC(ctx, r, body, a.HMAC, now)
	}
	return nil
}

func signatureError(code, detail, header string) *httpapi.Error {
	e := httpapi.NewError(http.StatusUnauthorized, code, detail)
	e.WWWAuthenticate = `Signature realm="hookflow"`
	e.Path = "headers." + header
	return e
}

func (s *triggerAuth) checkStandardWebhooks(ctx context.Context, r *http.Request, body []byte, a *trigger.StandardWebhooksAuth, now time.Time) *httpapi.Error {
	id, ts, sigs := r.Header.Get(HeaderWebhookID), r.Header.Get(HeaderWebhookTimestamp), r.Header.Get(HeaderWebhookSignature)
	for _, h := range []struct{ name, v string }{{HeaderWebhookID, id}, {HeaderWebhookTimestamp, ts}, {HeaderWebhookSignature, sigs}} {
		if h.v == "" {
			return signatureError("missing_signature", "the request is not signed: "+h.name+" is missing", h.name)
		}
	}
	if e := checkTimestamp(ts, HeaderWebhookTimestamp, trigger.ToleranceOr(a.Tolerance), now); e != nil {
		return e
	}
	secret, err := s.secrets.Secret(ctx, a.Secret)
	if err != nil {
		return s.misconfigured(a.Secret, err)
	}
	key := standardWebhooksKey(secret)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// Several space-separated signatures may be sent (key rotation); one
	// valid v1 signature is enough.
	for _, part := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return signatureError("invalid_signature", "no valid v1 signature in "+HeaderWebhookSignature, HeaderWebhookSignature)
}

// standardWebhooksKey reads a "whsec_<base64>" secret; a secret that is not
// base64 is used as raw bytes.
func standardWebhooksKey(secret []byte) []byte {
	s := strings.TrimPrefix(string(secret), "whsec_")
	if k, err := base64.StdEncoding.DecodeString(s); err == nil {
		return k
	}
	return []byte(s)
}

func (s *triggerAuth) checkGitHub(ctx context.Context, r *http.Request, body []byte, a *trigger.GitHubAuth) *httpapi.Error {
	h := r.Header.Get(HeaderGitHubSignature)
	if h == "" {
		return signatureError("missing_signature", "the request is not signed: "+HeaderGitHubSignature+" is missing", HeaderGitHubSignature)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(h, "sha256="))
	if err != nil || !strings.HasPrefix(h, "sha256=") {
		return signatureError("invalid_signature", HeaderGitHubSignature+" must be sha256=<hex>", HeaderGitHubSignature)
	}
	secret, serr := s.secrets.Secret(ctx, a.Secret)
	if serr != nil {
		return s.misconfigured(a.Secret, serr)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return signatureError("invalid_signature", "the signature does not match the body", HeaderGitHubSignature)
	}
	return nil
}

func (s *triggerAuth) checkHMAC(ctx context.Context, r *http.Request, body []byte, a *trigger.HMACAuth, now time.Time) *httpapi.Error {
	h := r.Header.Get(a.Header)
	if h == "" {
		return signatureError("missing_signature", "the request is not signed: "+a.Header+" is missing", a.Header)
	}
	if a.Prefix != "" && !strings.HasPrefix(h, a.Prefix) {
		return signatureError("invalid_signature", fmt.Sprintf("%s must start with %q", a.Header, a.Prefix), a.Header)
	}
	h = strings.TrimPrefix(h, a.Prefix)
	var got []byte
	var err error
	if a.Encoding == "base64" {
		got, err = base64.StdEncoding.DecodeString(h)
	} else {
		got, err = hex.DecodeString(h)
	}
	if err != nil {
		return signatureError("invalid_signature", a.Header+" is not valid "+encodingName(a.Encoding), a.Header)
	}
	var ts string
	if a.TimestampHeader != "" {
		ts = r.Header.Get(a.TimestampHeader)
		if ts == "" {
			return signatureError("missing_signature", "the request is not signed: "+a.TimestampHeader+" is missing", a.TimestampHeader)
		}
		if e := checkTimestamp(ts, a.TimestampHeader, trigger.ToleranceOr(a.Tolerance), now); e != nil {
			return e
		}
	}
	secret, serr := s.secrets.Secret(ctx, a.Secret)
	if serr != nil {
		return s.misconfigured(a.Secret, serr)
	}
	mac := hmac.New(hashFor(a.Algorithm), secret)
	if ts != "" {
		mac.Write([]byte(ts + "."))
	}
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return signatureError("invalid_signature", "the signature does not match the body", a.Header)
	}
	return nil
}

func encodingName(e string) string {
	if e == "" {
		return trigger.DefaultHMACEncoding
	}
	return e
}

// hashFor is the HMAC's hash; validation admits only these names, and an
// unset one is flow.DefaultHMACAlgorithm.
func hashFor(alg string) func() hash.Hash {
	if alg == "" {
		alg = trigger.DefaultHMACAlgorithm
	}
	switch alg {
	case "sha512":
		return sha512.New
	case "sha1":
		return sha1.New
	}
	return sha256.New
}

// checkTimestamp refuses a timestamp (Unix seconds) further than tolerance
// from now, in either direction: replay protection.
func checkTimestamp(ts, header string, tolerance field.Duration, now time.Time) *httpapi.Error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return signatureError("invalid_timestamp", header+" must be Unix seconds", header)
	}
	diff := now.Sub(time.Unix(sec, 0))
	if diff < 0 {
		diff = -diff
	}
	if diff > tolerance.Std() {
		return signatureError("stale_timestamp", fmt.Sprintf("%s is more than %s from the server's time (replay protection)", header, tolerance), header)
	}
	return nil
}

// misconfigured answers 500: the caller did nothing wrong, the operator has
// not provided the secret. The log names the secret, never a value.
func (s *triggerAuth) misconfigured(name string, err error) *httpapi.Error {
	s.log.Error("trigger auth secret unavailable", "secret", name, "error", err)
	return httpapi.NewError(http.StatusInternalServerError, "misconfigured", "the trigger's auth secret is not available on this server")
}
