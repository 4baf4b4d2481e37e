package recovery

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/executions"
)

func TestParseRedeliverRequestTakesSameOrNewAndNamesAnythingElse(t *testing.T) {
	unknownKey := &RedeliverRequestError{Code: "invalid_request", Path: "body.idempotencyKey", Message: `idempotencyKey must be "same" (the receiver sees the original Idempotency-Key again) or "new"`}
	cases := []struct {
		name string
		body string
		key  string
		err  *RedeliverRequestError
	}{
		{"an empty body keeps the delivery's key", "", KeySame, nil},
		{"a blank body is empty", " \n\t", KeySame, nil},
		{"an empty object keeps the key", "{}", KeySame, nil},
		{"same", `{"idempotencyKey": "same"}`, KeySame, nil},
		{"new", `{"idempotencyKey": "new"}`, KeyNew, nil},
		{"not JSON is malformed", `new`, KeySame, &RedeliverRequestError{Code: "malformed_json", Message: `the body must be a JSON object such as {"idempotencyKey": "new"}`}},
		{"an array is malformed", `["new"]`, KeySame, &RedeliverRequestError{Code: "malformed_json", Message: `the body must be a JSON object such as {"idempotencyKey": "new"}`}},
		{"an unknown field is named", `{"key": "new"}`, KeySame, &RedeliverRequestError{Code: "invalid_request", Path: "body.key", Message: `unknown field "key"; the body takes idempotencyKey`}},
		{"the first unknown field in order is named", `{"z": 1, "b": 2, "idempotencyKey": "new"}`, KeySame, &RedeliverRequestError{Code: "invalid_request", Path: "body.b", Message: `unknown field "b"; the body takes idempotencyKey`}},
		{"another key choice is refused", `{"idempotencyKey": "fresh"}`, KeySame, unknownKey},
		{"a key that is no string is refused", `{"idempotencyKey": 1}`, KeySame, unknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, err := ParseRedeliverRequest([]byte(c.body))
			require.Equal(t, c.err, err)
			require.Equal(t, c.key, key)
		})
	}
}

func TestARedeliverysKeyIsTheDeliverysOrOneOfItsOwn(t *testing.T) {
	require.Equal(t, "dlv_1", RedeliveryKey("dlv_1", KeySame, 3), "the receiver sees the original key again")
	require.Equal(t, "dlv_1-r3", RedeliveryKey("dlv_1", KeyNew, 3))
	require.NotEqual(t, RedeliveryKey("dlv_1", KeyNew, 1), RedeliveryKey("dlv_1", KeyNew, 2), "each redelivery its own")
}

func TestARefusedRedeliveryMatchesItsKindAndKeepsItsCause(t *testing.T) {
	cause := errors.New("cipher: message authentication failed")
	err := redeliverError(ErrUndecodable, cause, "cannot decode %s", "x")
	require.ErrorIs(t, err, ErrUndecodable)
	require.NotErrorIs(t, err, ErrNoDelivery)
	require.Same(t, cause, errors.Unwrap(err))
	require.Equal(t, "cannot decode x", err.Error(), "the cause is logged, not shown")
	require.False(t, strings.Contains(err.Error(), "cipher"))
}

func TestStatusNamesAreTheAPIs(t *testing.T) {
	require.Equal(t, "timedout", executions.StatusName(enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT))
	require.Equal(t, "continuedasnew", executions.StatusName(enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW))
	require.Equal(t, "unknown", executions.StatusName(enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED))
}
