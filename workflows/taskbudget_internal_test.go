package workflows

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// The byte budget of one workflow task, as a table: a local first attempt
// carries its request and kept response, an activity its request; the
// first send of a task always goes; past the budget a send waits.
func TestPlaceSendKeepsATaskWithinItsByteBudget(t *testing.T) {
	const KiB = 1 << 10
	budget := MaxSendBytesPerTask
	for _, c := range []struct {
		name                string
		used, request, kept int
		local               bool
		want                sendPlace
	}{
		{"a small send in an empty task is local", 0, 2 * KiB, 0, true, placeLocal},
		{"local when request and kept response fit exactly", budget - 300*KiB, 200 * KiB, 100 * KiB, true, placeLocal},
		{"an activity when the kept response does not fit", budget - 250*KiB, 200 * KiB, 100 * KiB, true, placeActivity},
		{"an activity when the first attempt may not be local", 0, 2 * KiB, 0, false, placeActivity},
		{"a request over the budget goes alone, as an activity", 0, budget + 1, 0, true, placeActivity},
		{"a request over the budget waits when the task carries anything", 1, budget, 0, true, placeNextTask},
		{"the fifth 200 KiB send of a task is local", 4 * 200 * KiB, 200 * KiB, 0, true, placeLocal},
		{"the sixth waits", 5 * 200 * KiB, 200 * KiB, 0, true, placeNextTask},
		{"an activity that fits exactly", budget - 10*KiB, 10 * KiB, 64 * KiB, true, placeActivity},
		{"one byte over waits", budget - 10*KiB + 1, 10 * KiB, 0, false, placeNextTask},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, placeSend(c.used, c.request, c.kept, c.local))
		})
	}
}

// What a send carries: its request's JSON plus the envelope; the response
// a local first attempt keeps is the step's keepResponseBytes, else the
// worker's default.
func TestSendBytesCountTheRequestAndTheKeptResponse(t *testing.T) {
	body := json.RawMessage(`{"blob":"` + strings.Repeat("x", 100_000) + `"}`)
	req := &flow.HTTPRequest{Method: "POST", URL: "https://example.com/x", Body: body}
	enc, err := json.Marshal(req)
	require.NoError(t, err)
	request, kept, err := sendBytes(req)
	require.NoError(t, err)
	require.Equal(t, len(enc)+sendEnvelopeBytes, request)
	require.Greater(t, request, 100_000)
	require.Equal(t, contract.DefaultMaxKeptBody, kept)
	zero := 0
	req.KeepBody = &zero
	_, kept, err = sendBytes(req)
	require.NoError(t, err)
	require.Zero(t, kept)
}

// A request Temporal could not record fails, naming its size; one at the
// bound passes.
func TestCheckRequestSizeRefusesWhatTemporalCannotRecord(t *testing.T) {
	require.NoError(t, checkRequestSize(MaxSendRequestBytes))
	err := checkRequestSize(MaxSendRequestBytes + 1<<10)
	require.ErrorContains(t, err, "the request is 1985 KiB, over the 1984 KiB one send may carry")
}

// The step log's answer stays within MaxStepLogAnswerBytes by leaving out
// the largest request bodies (their size kept); the log itself keeps them.
func TestStepLogAnswerLeavesOutLargeBodies(t *testing.T) {
	var l stepLog
	big := json.RawMessage(`"` + strings.Repeat("x", 300_000) + `"`)
	small := json.RawMessage(`{"i":1}`)
	for i := 0; i < 5; i++ {
		l.start(contract.StepRecord{ID: "send", Delivery: &contract.Delivery{Method: "POST", Body: big, DeliveryID: "dlv_big"}})
	}
	l.start(contract.StepRecord{ID: "small", Delivery: &contract.Delivery{Method: "POST", Body: small}})
	a := l.answer()
	require.LessOrEqual(t, encodedSize(a), MaxStepLogAnswerBytes)
	omitted := 0
	for _, r := range a.Steps[:5] {
		if r.Delivery.BodyOmitted > 0 {
			require.Nil(t, r.Delivery.Body)
			require.Equal(t, len(big), r.Delivery.BodyOmitted)
			omitted++
		}
	}
	require.Equal(t, 2, omitted, "two of five 300 KB bodies left out (three fit 1 MiB)")
	require.JSONEq(t, string(small), string(a.Steps[5].Delivery.Body))
	for _, r := range l.records[:5] {
		require.Len(t, r.Delivery.Body, len(big), "the log's own records keep their bodies")
		require.Zero(t, r.Delivery.BodyOmitted)
	}
	// Under the bound the answer is the snapshot.
	var s stepLog
	s.start(contract.StepRecord{ID: "send", Delivery: &contract.Delivery{Body: big}})
	require.Equal(t, s.snapshot(), s.answer())
}
