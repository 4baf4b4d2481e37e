package recovery

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
)

// TestARefusedRecoveryReachesTemporalAsNonRetryable: the SDK converts an
// activity's error by its own type, so the *RecoveryError the admin API
// matches with errors.Is would be a retryable failure; the activity entry
// points hand over the non-retryable application error it wraps.
func TestARefusedRecoveryReachesTemporalAsNonRetryable(t *testing.T) {
	conv := temporal.GetDefaultFailureConverter()
	refused := recoveryError(ErrNotResumable, ErrTypeNotResumable, "%s completed: there is nothing to resume", "f:rs1")
	require.True(t, errors.Is(refused, ErrNotResumable), "the API still matches it")

	raw := conv.ErrorToFailure(refused).GetApplicationFailureInfo()
	require.False(t, raw.GetNonRetryable(), "as it is, the SDK would retry it (the defect)")

	f := conv.ErrorToFailure(asActivityError(refused))
	require.True(t, f.GetApplicationFailureInfo().GetNonRetryable())
	require.Equal(t, contract.ErrNotResumable, f.GetApplicationFailureInfo().GetType())
	require.Equal(t, "f:rs1 completed: there is nothing to resume", f.GetMessage())

	other := errors.New("frontend unavailable")
	require.Same(t, other, asActivityError(other), "any other error is left to the retry policy")
	require.Nil(t, asActivityError(nil))
}
