package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, holdMax time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newReceiver(holdMax))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, strings.TrimSpace(string(b))
}

func records(t *testing.T, base, query string) []Record {
	t.Helper()
	code, body := send(t, http.MethodGet, base+"/control/records"+query, "", nil)
	if code != http.StatusOK {
		t.Fatalf("records: %d %s", code, body)
	}
	var out []Record
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnswersByPath(t *testing.T) {
	srv := start(t, time.Minute)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"POST", "/ok/orders", 200, `{"ok":true}`},
		{"PUT", "/ok", 200, `{"ok":true}`},
		{"POST", "/status/500/x", 500, `{"status":500}`},
		{"DELETE", "/status/429", 429, `{"status":429}`},
		{"POST", "/status/abc/x", 400, `{"error":"want /status/{code}/..., code 100 to 999"}`},
		{"POST", "/nowhere", 404, `{"error":"unknown path"}`},
	} {
		code, body := send(t, tc.method, srv.URL+tc.path, "", nil)
		if code != tc.code || body != tc.body {
			t.Errorf("%s %s: got %d %s, want %d %s", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	if n := len(records(t, srv.URL, "")); n != 6 {
		t.Errorf("recorded %d requests, want 6 (control requests are not recorded)", n)
	}
}

func TestRecordsWhatArrived(t *testing.T) {
	srv := start(t, time.Minute)
	before := time.Now().UTC()
	send(t, http.MethodPost, srv.URL+"/ok/a?x=1&x=2&y=z", `{"n":1}`, map[string]string{"Content-Type": "application/json", "Idempotency-Key": "k1"})
	send(t, http.MethodGet, srv.URL+"/status/404/b", "", nil)

	all := records(t, srv.URL, "")
	if len(all) != 2 {
		t.Fatalf("got %d records, want 2", len(all))
	}
	r := all[0]
	if r.Method != "POST" || r.Path != "/ok/a" || r.Body != `{"n":1}` || r.RawQuery != "x=1&x=2&y=z" {
		t.Errorf("record: %+v", r)
	}
	if got := r.Query["x"]; len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("query x = %v", got)
	}
	if r.Headers.Get("Idempotency-Key") != "k1" || r.Headers.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", r.Headers)
	}
	if r.Time.Before(before) || r.Time.After(time.Now().UTC()) {
		t.Errorf("arrival time %v outside the test's window", r.Time)
	}

	if got := records(t, srv.URL, "?path=/status/"); len(got) != 1 || got[0].Path != "/status/404/b" {
		t.Errorf("filtered records: %+v", got)
	}

	if code, _ := send(t, http.MethodPost, srv.URL+"/control/reset", "", nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	if got := records(t, srv.URL, ""); len(got) != 0 {
		t.Errorf("after reset: %d records", len(got))
	}
	if code, _ := send(t, http.MethodGet, srv.URL+"/control/reset", "", nil); code != 404 {
		t.Errorf("GET /control/reset: %d, want 404", code)
	}
}

func TestFlakyCountsPerIdempotencyKey(t *testing.T) {
	srv := start(t, time.Minute)
	want := []int{503, 503, 200, 200}
	for i, w := range want {
		if code, _ := send(t, http.MethodPost, srv.URL+"/flaky/2/x", "{}", map[string]string{"Idempotency-Key": "a"}); code != w {
			t.Errorf("key a, request %d: %d, want %d", i+1, code, w)
		}
	}
	// Another key starts its own count.
	if code, _ := send(t, http.MethodPost, srv.URL+"/flaky/2/x", "{}", map[string]string{"Idempotency-Key": "b"}); code != 503 {
		t.Errorf("key b, first request: %d, want 503", code)
	}
	if code, _ := send(t, http.MethodPost, srv.URL+"/flaky/0/x", "{}", map[string]string{"Idempotency-Key": "c"}); code != 200 {
		t.Errorf("flaky/0: %d, want 200", code)
	}
	// Reset forgets the counts.
	send(t, http.MethodPost, srv.URL+"/control/reset", "", nil)
	if code, _ := send(t, http.MethodPost, srv.URL+"/flaky/2/x", "{}", map[string]string{"Idempotency-Key": "a"}); code != 503 {
		t.Errorf("key a after reset: %d, want 503", code)
	}
}

func TestHoldUntilRelease(t *testing.T) {
	srv := start(t, time.Minute)
	done := make(chan int, 2)
	for range 2 {
		go func() {
			res, err := http.Post(srv.URL+"/hold/x", "application/json", strings.NewReader("{}"))
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
	}
	// Both arrive (and are recorded) while held.
	deadline := time.Now().Add(5 * time.Second)
	for len(records(t, srv.URL, "?path=/hold/")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("held requests were not recorded on arrival")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case code := <-done:
		t.Fatalf("a held request answered %d before the release", code)
	case <-time.After(100 * time.Millisecond):
	}
	if code, body := send(t, http.MethodGet, srv.URL+"/control/held", "", nil); code != 200 || body != `{"held":2,"peak":2}` {
		t.Errorf("held while held: %d %s", code, body)
	}
	code, body := send(t, http.MethodPost, srv.URL+"/control/release", "", nil)
	if code != 200 || body != `{"released":2}` {
		t.Errorf("release: %d %s", code, body)
	}
	for range 2 {
		select {
		case code := <-done:
			if code != 200 {
				t.Errorf("held request answered %d, want 200", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("held request not answered after the release")
		}
	}
	// The peak stays until asked to start again from what is held now.
	if code, body := send(t, http.MethodPost, srv.URL+"/control/held", "", nil); code != 200 || body != `{"held":0,"peak":2}` {
		t.Errorf("held after the release: %d %s", code, body)
	}
	if code, body := send(t, http.MethodGet, srv.URL+"/control/held", "", nil); code != 200 || body != `{"held":0,"peak":0}` {
		t.Errorf("held after the peak restarted: %d %s", code, body)
	}
}

func TestHoldEndsOnItsOwn(t *testing.T) {
	srv := start(t, 50*time.Millisecond)
	if code, _ := send(t, http.MethodPost, srv.URL+"/hold/x", "{}", nil); code != 200 {
		t.Errorf("hold past its limit: %d, want 200", code)
	}
}
