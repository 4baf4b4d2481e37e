package activities

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/store"
)

// ResumeKeySecret names the secret that signs resume links (wait and
// approval steps). The worker signs with it, the API verifies with it; it
// never enters a run's input, history or the step log.
const ResumeKeySecret = "resume_key"

// MinResumeKeyLen bounds the resume key from below (bytes).
const MinResumeKeyLen = 16

// FlowGetter is what ResolveFlow needs of the flow store (*store.Flows).
type FlowGetter interface {
	Get(ctx context.Context, id string) (*store.Flow, error)
}

// Composition holds the activities of call, wait and approval steps: the
// callee's current version from the flow store, and signed resume links.
type Composition struct {
	flows   FlowGetter
	secrets secrets.Provider
}

// NewComposition returns the composition activities; flows nil (a worker
// without --store) fails call steps at once, naming the setting.
func NewComposition(flows FlowGetter, sec secrets.Provider) *Composition {
	return &Composition{flows: flows, secrets: sec}
}

// Register registers the activities under their stable names; a nil
// *Composition registers them without a store or secrets.
func (a *Composition) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	if a == nil {
		a = NewComposition(nil, nil)
	}
	r.RegisterActivityWithOptions(a.ResolveFlow, activity.RegisterOptions{Name: contract.ResolveFlowName})
	r.RegisterActivityWithOptions(a.SignResume, activity.RegisterOptions{Name: contract.SignResumeName})
}

// ResolveFlow reads a flow's current version.
func (a *Composition) ResolveFlow(ctx context.Context, req contract.ResolveFlowRequest) (*contract.ResolvedFlow, error) {
	if a.flows == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no flow store: start it with --store (or HOOKFLOW_STORE) to run call steps", contract.ErrFlowStoreMissing, nil)
	}
	f, err := a.flows.Get(ctx, req.FlowID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no flow has the id %q (deleted since this flow was applied?)", req.FlowID), contract.ErrFlowNotFound, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read flow %q: %w", req.FlowID, err)
	}
	return &contract.ResolvedFlow{Flow: f.Def.Snapshot(), Version: f.Version}, nil
}

// SignResume signs a wait's links with the resume key.
func (a *Composition) SignResume(ctx context.Context, req contract.ResumeRequest) (*contract.ResumeLinks, error) {
	if req.BaseURL == "" {
		return nil, temporal.NewNonRetryableApplicationError("the run has no public base URL for resume links: set the API's --public-url", contract.ErrResumeBaseURLAbsent, nil)
	}
	key, err := resumeKey(ctx, a.secrets)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrResumeKeyMissing, nil)
	}
	out := &contract.ResumeLinks{URLs: map[string]string{}}
	for _, action := range req.Actions {
		tok := SignResumeToken(key, ResumeClaim{
			ExecutionID: req.ExecutionID, StepID: req.StepID, Occurrence: req.Occurrence,
			Action: action, Expires: req.Expires.Unix(),
		})
		out.URLs[action] = strings.TrimRight(req.BaseURL, "/") + ResumePathPrefix + tok
	}
	return out, nil
}

// ResumePathPrefix is where resume links point, below the public base URL.
// It sits beside the trigger URLs (/hooks/{token}): one public prefix.
const ResumePathPrefix = "/hooks/resume/"

// resumeKey resolves the resume key; the error names the secret, never a
// value.
func resumeKey(ctx context.Context, p secrets.Provider) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("the secret %s is not configured: wait and approval steps need it to sign their links", ResumeKeySecret)
	}
	v, err := p.Secret(ctx, ResumeKeySecret)
	if err != nil {
		return nil, fmt.Errorf("the secret %s is not available (%v): wait and approval steps need it to sign their links", ResumeKeySecret, err)
	}
	if len(v) < MinResumeKeyLen {
		return nil, fmt.Errorf("the secret %s is shorter than %d bytes", ResumeKeySecret, MinResumeKeyLen)
	}
	return v, nil
}

// ResumeKey resolves the resume key, for the API that verifies links.
func ResumeKey(ctx context.Context, p secrets.Provider) ([]byte, error) { return resumeKey(ctx, p) }

// ResumeClaim is what a resume token says: which wait (execution, step id,
// occurrence), what to do, and until when (Unix seconds).
type ResumeClaim struct {
	ExecutionID string `json:"e"`
	StepID      string `json:"s"`
	Occurrence  int    `json:"n"`
	Action      string `json:"a"`
	Expires     int64  `json:"x"`
}

// SignResumeToken is base64url(claim JSON) "." base64url(HMAC-SHA256).
func SignResumeToken(key []byte, c ResumeClaim) string {
	b, _ := json.Marshal(c)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(resumeMAC(key, body))
}

func resumeMAC(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hookflow-resume-v1."))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Errors of VerifyResumeToken.
var (
	ErrResumeTokenInvalid = errors.New("not a valid resume link")
	ErrResumeTokenExpired = errors.New("the resume link has expired")
)

// VerifyResumeToken checks a token's signature (in constant time) and
// expiry, and returns its claim.
func VerifyResumeToken(key []byte, tok string, now time.Time) (*ResumeClaim, error) {
	body, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 2048 {
		return nil, ErrResumeTokenInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || subtle.ConstantTimeCompare(got, resumeMAC(key, body)) != 1 {
		return nil, ErrResumeTokenInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, ErrResumeTokenInvalid
	}
	var c ResumeClaim
	if err := json.Unmarshal(raw, &c); err != nil || c.ExecutionID == "" || c.StepID == "" {
		return nil, ErrResumeTokenInvalid
	}
	if now.Unix() > c.Expires {
		return &c, ErrResumeTokenExpired
	}
	return &c, nil
}
