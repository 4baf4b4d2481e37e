// Command receiver is the webhook receiver of the cluster tests
// (hookflow-receiver:dev): it records every request it gets and answers by
// path, so a test can make a destination succeed, fail, flap or hang, and
// then read what arrived.
//
// Answers, by path:
//
//	/ok/...                200 {"ok":true}
//	/status/{code}/...     that status, body {"status":code}
//	/flaky/{n}/...         503 for the first n requests carrying the same
//	                       Idempotency-Key header, then 200 {"ok":true}
//	/hold/...              held until POST /control/release (or 60 s, or the
//	                       caller gives up), then 200 {"ok":true}
//	anything else          404 {"error":"unknown path"}
//
// Control (not recorded):
//
//	GET  /control/records[?path=prefix]  JSON array of the records, in arrival order
//	POST /control/reset                  forget records and flaky counters
//	POST /control/release                answer every request held now; {"released":n}
//	GET  /control/held                   {"held":n,"peak":p}: requests held now, and the most
//	                                     held at once since the last POST /control/held
//	POST /control/held                   the same answer; the peak then starts again from n
//
// A record is {"method","path","query","rawQuery","headers","body","time"}:
// query as a map of lists, headers with canonical names, the body as text,
// the arrival time in RFC 3339 with nanoseconds.
//
// Standard library only; it listens on :8080 (-addr).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Record is one request as it arrived.
type Record struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Query    url.Values  `json:"query"`
	RawQuery string      `json:"rawQuery"`
	Headers  http.Header `json:"headers"`
	Body     string      `json:"body"`
	Time     time.Time   `json:"time"`
}

const maxBody = 10 << 20

// Receiver is the handler; the zero value is not usable, use newReceiver.
type Receiver struct {
	holdMax time.Duration

	mu      sync.Mutex
	records []Record
	flaky   map[string]int // Idempotency-Key -> requests seen on /flaky/
	release chan struct{}  // closed by /control/release
	// held is how many /hold/ requests wait now; peak the most at once
	// since the last POST /control/held.
	held, peak int
}

func newReceiver(holdMax time.Duration) *Receiver {
	return &Receiver{holdMax: holdMax, flaky: map[string]int{}, release: make(chan struct{})}
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/control/"); ok {
		rc.control(w, r, rest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
		return
	}
	rc.mu.Lock()
	rc.records = append(rc.records, Record{
		Method:   r.Method,
		Path:     r.URL.Path,
		Query:    r.URL.Query(),
		RawQuery: r.URL.RawQuery,
		Headers:  r.Header.Clone(),
		Body:     string(body),
		Time:     time.Now().UTC(),
	})
	rc.mu.Unlock()

	first, second, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	arg, _, _ := strings.Cut(second, "/")
	switch first {
	case "ok":
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "status":
		code, err := strconv.Atoi(arg)
		if err != nil || code < 100 || code > 999 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want /status/{code}/..., code 100 to 999"})
			return
		}
		writeJSON(w, code, map[string]int{"status": code})
	case "flaky":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want /flaky/{n}/..., n >= 0"})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		rc.mu.Lock()
		rc.flaky[key]++
		seen := rc.flaky[key]
		rc.mu.Unlock()
		if seen <= n {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ok": false, "attempt": seen})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "hold":
		rc.mu.Lock()
		release := rc.release
		rc.held++
		rc.peak = max(rc.peak, rc.held)
		rc.mu.Unlock()
		timer := time.NewTimer(rc.holdMax)
		defer timer.Stop()
		select {
		case <-release:
		case <-timer.C:
		case <-r.Context().Done():
		}
		rc.mu.Lock()
		if release == rc.release {
			rc.held--
		}
		rc.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown path"})
	}
}

func (rc *Receiver) control(w http.ResponseWriter, r *http.Request, what string) {
	switch {
	case what == "records" && r.Method == http.MethodGet:
		prefix := r.URL.Query().Get("path")
		rc.mu.Lock()
		out := make([]Record, 0, len(rc.records))
		for _, rec := range rc.records {
			if strings.HasPrefix(rec.Path, prefix) {
				out = append(out, rec)
			}
		}
		rc.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case what == "reset" && r.Method == http.MethodPost:
		rc.mu.Lock()
		rc.records = nil
		rc.flaky = map[string]int{}
		rc.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case what == "held" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		rc.mu.Lock()
		out := map[string]int{"held": rc.held, "peak": rc.peak}
		if r.Method == http.MethodPost {
			rc.peak = rc.held
		}
		rc.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case what == "release" && r.Method == http.MethodPost:
		rc.mu.Lock()
		close(rc.release)
		rc.release = make(chan struct{})
		n := rc.held
		rc.held = 0
		rc.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]int{"released": n})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "want GET /control/records, POST /control/reset, POST /control/release or GET/POST /control/held"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	holdMax := flag.Duration("hold-max", 60*time.Second, "longest a /hold/ request waits for a release")
	flag.Parse()

	srv := &http.Server{Addr: *addr, Handler: newReceiver(*holdMax), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("receiver listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
