package field_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/field"
)

func TestDurationsAreWrittenAsGoDurationsOrWholeDays(t *testing.T) {
	for in, want := range map[string]string{"30s": "30s", "1h30m": "1h30m0s", "3d": "72h0m0s", "1d12h": "36h0m0s"} {
		d, err := field.ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, d.String(), in)
	}
	for _, in := range []string{"", "soon", "xd", "-1d"} {
		_, err := field.ParseDuration(in)
		require.Error(t, err, in)
	}
}

func TestADurationRoundTripsThroughJSONAndABadOneIsReportedBeforeDecoding(t *testing.T) {
	b, err := json.Marshal(field.Duration(90e9))
	require.NoError(t, err)
	require.JSONEq(t, `"1m30s"`, string(b))
	var d field.Duration
	require.NoError(t, json.Unmarshal([]byte(`"2d"`), &d))
	require.Equal(t, "48h0m0s", d.String())
	// A bad value leaves zero rather than aborting the whole decode: the
	// check before decoding names it with its path.
	require.NoError(t, json.Unmarshal([]byte(`"soon"`), &d))
	require.Zero(t, d)
	msg, ok := field.CheckDuration([]byte(`"soon"`))
	require.False(t, ok)
	require.Contains(t, msg, "invalid duration")
	msg, ok = field.CheckDuration([]byte(`30`))
	require.False(t, ok)
	require.Contains(t, msg, "must be a duration string")
	_, ok = field.CheckDuration([]byte(`"5m"`))
	require.True(t, ok)
}

func TestProblemsComeInDocumentOrderOnceEach(t *testing.T) {
	var l field.List
	l.Add("steps[10].id", "is required")
	l.Add("steps[2].then[0].if", "found first")
	l.Add("id", "must be a lowercase id")
	l.Add("steps[2].then[0].if", "found second")
	l.Add("steps[10].id", "is required")
	l.Add("steps[2]", "needs a type")
	require.Equal(t, []field.Error{
		{Path: "id", Message: "must be a lowercase id"},
		{Path: "steps[2]", Message: "needs a type"},
		{Path: "steps[2].then[0].if", Message: "found first"},
		{Path: "steps[2].then[0].if", Message: "found second"},
		{Path: "steps[10].id", Message: "is required"},
	}, l.Sorted())
	require.Empty(t, field.List(nil).Sorted())
}

func TestPathsOrderNumbersByValue(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"steps[2]", "steps[10]", true},
		{"steps[10]", "steps[2]", false},
		{"steps[2]", "steps[2].id", true},
		{"id", "steps[0]", true},
		{"a", "a", false},
	} {
		require.Equal(t, tc.less, field.PathLess(tc.a, tc.b), "%s < %s", tc.a, tc.b)
	}
}

func TestPathsJoinFieldsWithDotsAndIndexesWithBrackets(t *testing.T) {
	require.Equal(t, "steps[2]", field.IndexPath("steps", 2))
	require.Equal(t, "steps[2].then", field.JoinPath("steps[2]", "then"))
	require.Equal(t, "steps[2][0]", field.JoinPath("steps[2]", "[0]"))
	require.Equal(t, "then", field.JoinPath("", "then"))
	require.Equal(t, "steps", field.JoinPath("steps", ""))
	require.Equal(t, "error", field.FirstLine("error\n  1 + | caret"))
}

func TestTheStringRulesAcceptWhatTheirNamesSay(t *testing.T) {
	for _, tc := range []struct {
		rule, s string
		ok      bool
	}{
		{"flowid", "orders-v2", true},
		{"flowid", "Orders", false},
		{"stepid", "send_1", true},
		{"stepid", "1send", false},
		{"urltoken", "abc_DEF-123", true},
		{"urltoken", "a/b", false},
		{"header", "X-Hub-Signature-256", true},
		{"header", "X Sig", false},
		{"secretname", "GITHUB_SECRET", true},
		{"secretname", "s3cr3t-v@lue!", false},
		{"nosuchrule", "anything", false},
	} {
		require.Equal(t, tc.ok, field.Matches(tc.rule, tc.s), "%s %q", tc.rule, tc.s)
	}
	require.Equal(t, []string{"flowid", "header", "secretname", "stepid", "urltoken"}, field.Rules())
	p, ok := field.RulePattern("secretname")
	require.True(t, ok)
	require.Equal(t, field.SecretNamePattern(), p)
	_, ok = field.RulePattern("nosuchrule")
	require.False(t, ok)
	require.True(t, field.IsCollectionName("contacts"))
	require.False(t, field.IsCollectionName("Contacts"))
	require.True(t, field.IsIdentifier("orderId"))
	require.True(t, field.IsFlowID("nightly"))
	require.True(t, field.ValidSecretName("API_KEY"))
}
