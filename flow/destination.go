package flow

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
	"go.yaml.in/yaml/v3"
)

// Destination is an admin-defined webhook endpoint (Pipedrive's automation
// webhooks): a base URL with its credentials, headers, timeouts, retry
// policy and limits, defined once and picked by http steps by name
// (destination: crm, path: deals/{{ vars.id }}). The worker reads it when a
// delivery's attempt runs, so a change applies without a new flow version.
// Auth holds secret names, never values.
type Destination struct {
	Name        string `json:"name" validate:"required,flowid" doc:"The destination's name: http steps pick it with destination: <name>."`
	Description string `json:"description,omitempty" validate:"max=2000" doc:"What the destination is."`
	// BaseURL is where paths are appended, as they are: it must end with
	// "/", "&", "?" or "=" (Pipedrive's rule), so the joint is explicit.
	BaseURL string            `json:"baseUrl" validate:"required,max=4096" doc:"Where step paths are appended, as they are: it must end with /, &, ? or =, so the joint is explicit. A fixed URL, not a template."`
	Auth    *HTTPAuth         `json:"auth,omitempty" doc:"How requests are authenticated (secret names, never values)."`
	Headers map[string]string `json:"headers,omitempty" validate:"max=100,dive,keys,header,endkeys,max=8192" doc:"Headers sent with every request (fixed values)."`
	// Timeouts per attempt and the retry policy: a step's own settings
	// win field by field, then these, then the delivery defaults.
	Timeouts *HTTPTimeouts `json:"timeouts,omitempty" doc:"Timeouts of one attempt; a step's own settings win field by field."`
	Retry    *RetryPolicy  `json:"retry,omitempty" doc:"Retry policy; a step's own settings win field by field, then these, then the delivery defaults."`
	// RateLimit bounds deliveries started per second across every worker
	// (the Temporal server enforces it on the destination's task queue).
	RateLimit *RateLimit `json:"rateLimit,omitempty" doc:"Bounds deliveries started per second across every worker (the Temporal server enforces it on the destination's task queue)."`
	// MaxInFlight bounds deliveries in flight across every worker: each
	// attempt holds a lease in the flow store while it sends.
	MaxInFlight int `json:"maxInFlight,omitempty" validate:"omitempty,min=1,max=10000" doc:"Bounds deliveries in flight across every worker: each attempt holds one of maxInFlight leases in the flow store while it sends (an attempt that finds none free waits, then parks without sending). Unset: no bound across workers; each worker process sends at most its --max-concurrent-deliveries to it at once."`
	// Limits are quotas per period (100 a minute, 10,000 a day) counted
	// across every worker in the flow store: when one is used up the
	// destination's deliveries park until its period ends.
	Limits         []PeriodLimit   `json:"limits,omitempty" validate:"max=5,dive" doc:"Quotas per period (100 a minute, 10,000 a day) counted across every worker: when one is used up the destination's deliveries park until its period ends."`
	CircuitBreaker *CircuitBreaker `json:"circuitBreaker,omitempty" doc:"Opens after consecutive failures (or a failure rate): deliveries park and one probe goes out every probeInterval; a probe that succeeds closes it."`
}

// PeriodLimit admits at most Max attempts per Per. Periods are fixed
// windows aligned to the Unix epoch (a window starts at floor(now/per)*per:
// per: 1m is each wall-clock minute, per: 24h each UTC day); the count
// starts again at 0 when a window begins. Every attempt sent counts,
// retries and probes included; parked ones (nothing sent) do not.
type PeriodLimit struct {
	Per field.Duration `json:"per" validate:"required,dmin=1s,dmax=744h" doc:"The period: a fixed window aligned to the Unix epoch (1m is each wall-clock minute, 24h each UTC day); whole seconds."`
	Max int64          `json:"max" validate:"required,min=1,max=1000000000" doc:"Attempts admitted per period, retries and probes included."`
}

// WindowStart is the start of the window holding t, in Unix milliseconds.
func (l PeriodLimit) WindowStart(t time.Time) int64 {
	per := l.Per.Std().Milliseconds()
	ms := t.UnixMilli()
	return ms - ms%per
}

// RateLimit is requests per second. Temporal's matching service allows a
// burst of one second's worth (ceil(perSecond)); it is not configurable.
type RateLimit struct {
	PerSecond float64 `json:"perSecond" validate:"gt=0,max=100000" doc:"Deliveries started per second; Temporal allows a burst of one second's worth."`
}

// CircuitBreaker opens after Failures consecutive failed attempts (5xx,
// network errors, timeouts, 429), or, with FailureRate set, when within one
// Window at least MinRequests attempts were made and the failed share of
// them reached FailureRate: deliveries then park (wait in the
// destination's task queue) and one probe goes out every ProbeInterval; a
// probe that succeeds closes it.
type CircuitBreaker struct {
	Disabled      bool           `json:"disabled,omitempty" doc:"true: the circuit never opens."`
	Failures      int            `json:"failures,omitempty" validate:"omitempty,min=1,max=100000" doc:"Consecutive failed attempts (5xx, network errors, timeouts, 429) that open the circuit."`
	ProbeInterval field.Duration `json:"probeInterval,omitempty" validate:"omitempty,dmin=1s,dmax=24h" doc:"While open, one probe goes out this often."`
	// FailureRate (0 < rate <= 1) turns on the failure-rate window: Window
	// (default 1m) is a fixed window aligned to the Unix epoch, and
	// MinRequests (default 20) the attempts it needs before the rate
	// counts. With it every attempt's outcome is written to the store.
	FailureRate float64        `json:"failureRate,omitempty" validate:"omitempty,gt=0,lte=1" doc:"Turns on the failure-rate window: the circuit opens when the failed share of at least minRequests attempts in one window reaches it (0 < rate <= 1)."`
	Window      field.Duration `json:"window,omitempty" validate:"omitempty,dmin=1s,dmax=24h" doc:"The failure-rate window, aligned to the Unix epoch; needs failureRate."`
	MinRequests int            `json:"minRequests,omitempty" validate:"omitempty,min=1,max=1000000" doc:"Attempts a window needs before its failure rate counts; needs failureRate."`
}

// Failure-rate window defaults.
const (
	DefaultBreakerWindow      = time.Minute
	DefaultBreakerMinRequests = 20
)

// FailureWindow is the effective failure-rate window of a circuit
// breaker; Rate 0 means none.
type FailureWindow struct {
	Rate        float64
	Window      time.Duration
	MinRequests int
}

// WindowStart is the start of the window holding t, in Unix milliseconds.
func (w FailureWindow) WindowStart(t time.Time) int64 {
	per := w.Window.Milliseconds()
	ms := t.UnixMilli()
	return ms - ms%per
}

// Trips tells whether requests attempts with failed failures among them
// open the circuit.
func (w FailureWindow) Trips(requests, failed int64) bool {
	return w.Rate > 0 && requests >= int64(w.MinRequests) && requests > 0 &&
		float64(failed) >= w.Rate*float64(requests)
}

// RateWindow is the destination's failure-rate window (Rate 0: none, or
// the breaker is disabled).
func (d *Destination) RateWindow() FailureWindow {
	cb := d.CircuitBreaker
	if cb == nil || cb.Disabled || cb.FailureRate == 0 {
		return FailureWindow{}
	}
	w := FailureWindow{Rate: cb.FailureRate, Window: DefaultBreakerWindow, MinRequests: DefaultBreakerMinRequests}
	if cb.Window > 0 {
		w.Window = cb.Window.Std()
	}
	if cb.MinRequests > 0 {
		w.MinRequests = cb.MinRequests
	}
	return w
}

// Circuit breaker defaults.
const (
	DefaultBreakerFailures      = 10
	DefaultBreakerProbeInterval = 30 * time.Second
)

// Breaker is the effective circuit breaker (enabled false: never opens).
func (d *Destination) Breaker() (enabled bool, failures int, probe time.Duration) {
	failures, probe = DefaultBreakerFailures, DefaultBreakerProbeInterval
	cb := d.CircuitBreaker
	if cb == nil {
		return true, failures, probe
	}
	if cb.Failures > 0 {
		failures = cb.Failures
	}
	if cb.ProbeInterval > 0 {
		probe = cb.ProbeInterval.Std()
	}
	return !cb.Disabled, failures, probe
}

// DestinationTaskQueue is the task queue a destination's deliveries run on:
// its workers carry its rate limit and max in flight, and pausing it is
// no worker polling it.
func DestinationTaskQueue(name string) string { return "hookflow-dest-" + name }

// DestinationError lists every problem of a destination definition, each
// with its path.
type DestinationError struct {
	Errors []field.Error `json:"errors"`
}

func (e *DestinationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	if len(lines) == 1 {
		return "invalid destination: " + lines[0]
	}
	return fmt.Sprintf("invalid destination (%d errors):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// DecodeDestination reads a destination strictly (unknown fields are
// errors) from JSON, or YAML when yamlDoc, and validates it; every problem
// comes back at once with its path.
func DecodeDestination(data []byte, yamlDoc bool) (*Destination, error) {
	if yamlDoc {
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, &DestinationError{Errors: []field.Error{{Message: "malformed YAML: " + err.Error()}}}
		}
		doc, ferr := jsonCompatible(doc, "")
		if ferr != nil {
			return nil, &DestinationError{Errors: []field.Error{*ferr}}
		}
		var err error
		if data, err = json.Marshal(doc); err != nil {
			return nil, &DestinationError{Errors: []field.Error{{Message: "YAML holds a value JSON cannot: " + err.Error()}}}
		}
	}
	var errs field.List
	d := &Destination{}
	decodeStrict(data, d, "", &errs)
	if len(errs) == 0 {
		errs = append(errs, d.Check()...)
	}
	if len(errs) > 0 {
		return nil, &DestinationError{Errors: errs.Sorted()}
	}
	return d, nil
}

// Check validates a decoded destination: struct rules plus the base URL's
// form, auth's required fields and static headers.
func (d *Destination) Check() []field.Error {
	var errs field.List
	validateStruct(d, "", &errs)
	if d.BaseURL != "" {
		u, err := url.Parse(d.BaseURL)
		switch {
		case expression.IsTemplate(d.BaseURL):
			errs.Add("baseUrl", "is a fixed URL, not a template (steps template their path)")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			errs.Add("baseUrl", "must be an absolute https URL (http only for hosts the worker allowlists with --allow-host)")
		case u.User != nil:
			errs.Add("baseUrl", "must not hold credentials: use auth with a secret")
		case !strings.ContainsAny(d.BaseURL[len(d.BaseURL)-1:], "/&?="):
			errs.Add("baseUrl", `must end with "/", "&", "?" or "=": paths are appended to it as they are`)
		}
	}
	for _, k := range SortedKeys(d.Headers) {
		if expression.IsTemplate(d.Headers[k]) {
			errs.Add(field.JoinPath("headers", k), "is a fixed value (steps template their own headers)")
		}
	}
	for _, fe := range d.Auth.check("auth") {
		errs = append(errs, fe)
	}
	seen := map[field.Duration]int{}
	for i, l := range d.Limits {
		p := fmt.Sprintf("limits[%d].per", i)
		if l.Per.Std() > time.Second && l.Per.Std()%time.Second != 0 {
			errs.Add(p, "must be whole seconds (periods are windows aligned to the clock)")
		}
		if j, dup := seen[l.Per]; dup && l.Per > 0 {
			errs.Add(p, "repeats limits[%d].per: one limit per period", j)
		}
		seen[l.Per] = i
	}
	if cb := d.CircuitBreaker; cb != nil && cb.FailureRate == 0 {
		if cb.Window != 0 {
			errs.Add("circuitBreaker.window", "needs failureRate (the share of failed attempts in a window that opens the circuit)")
		}
		if cb.MinRequests != 0 {
			errs.Add("circuitBreaker.minRequests", "needs failureRate (the share of failed attempts in a window that opens the circuit)")
		}
	}
	if cb := d.CircuitBreaker; cb != nil && cb.Window.Std() > time.Second && cb.Window.Std()%time.Second != 0 {
		errs.Add("circuitBreaker.window", "must be whole seconds (windows are aligned to the clock)")
	}
	if r := d.Retry; r != nil && r.InitialInterval != 0 && r.MaximumInterval != 0 && r.MaximumInterval < r.InitialInterval {
		errs.Add("retry.maximumInterval", "must be at least initialInterval")
	}
	return errs
}

// Join is the URL an attempt sends to: the base URL, the step's rendered
// path appended as it is (one slash kept between them), and the step's
// query parameters added.
func (d *Destination) Join(path string, query url.Values) (string, error) {
	raw := d.BaseURL
	if strings.HasSuffix(raw, "/") {
		raw += strings.TrimLeft(path, "/")
	} else {
		raw += path
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("destination %s: base URL plus path %q is not a URL", d.Name, path)
	}
	if len(query) > 0 {
		q := u.Query()
		for _, k := range SortedKeys(query) {
			for _, v := range query[k] {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// DestinationRef is one http step that sends to a destination.
type DestinationRef struct {
	// Path is the step's path plus ".destination", for error messages.
	Path string
	Name string
}

// Destinations lists the destinations a flow's http steps name, in
// document order.
func (f *Flow) Destinations() []DestinationRef {
	var out []DestinationRef
	f.Walk(func(p string, s *Step) bool {
		if h, ok := s.Spec.(*HTTP); ok && h.Destination != "" {
			out = append(out, DestinationRef{Path: p + ".destination", Name: h.Destination})
		}
		return true
	})
	return append(out, f.notifyRefs()...)
}

// CheckDestinations refuses destinations that exist neither in the store
// (exists) nor anywhere else: each with its step's path.
func CheckDestinations(f *Flow, exists func(name string) bool) []field.Error {
	var errs []field.Error
	for _, r := range f.Destinations() {
		if !exists(r.Name) {
			errs = append(errs, field.Error{Path: r.Path, Message: fmt.Sprintf("no destination is named %q (create it first: hookflow destinations apply)", r.Name)})
		}
	}
	return errs
}

// WithDestination is the step as a delivery to d runs it: retry and
// timeouts field by field from the step, else from d (the defaults fill
// the rest in EffectiveRetry and EffectiveTimeouts).
func (h *HTTP) WithDestination(retry *RetryPolicy, timeouts *HTTPTimeouts) *HTTP {
	c := *h
	if retry != nil {
		r := *retry
		if s := h.Retry; s != nil {
			if s.InitialInterval != 0 {
				r.InitialInterval = s.InitialInterval
			}
			if s.BackoffCoefficient != 0 {
				r.BackoffCoefficient = s.BackoffCoefficient
			}
			if s.MaximumInterval != 0 {
				r.MaximumInterval = s.MaximumInterval
			}
			if s.GiveUpAfter != 0 {
				r.GiveUpAfter = s.GiveUpAfter
			}
			if s.MaximumAttempts != 0 {
				r.MaximumAttempts = s.MaximumAttempts
			}
		}
		c.Retry = &r
	}
	if timeouts != nil {
		t := *timeouts
		if s := h.Timeouts; s != nil {
			if s.Connect != 0 {
				t.Connect = s.Connect
			}
			if s.Response != 0 {
				t.Response = s.Response
			}
		}
		c.Timeouts = &t
	}
	return &c
}
