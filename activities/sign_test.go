package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Known answers computed independently with Python's hashlib and hmac from
// each scheme's published definition (see the session notes in README).
func TestSignatureVectors(t *testing.T) {
	secret := []byte("hubspot-app-secret")
	body := []byte(`{"orderId":"A-1"}`)
	uri := "https://hooks.example.test/orders?x=1"
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	require.Equal(t, "498f7c919f8dd12cfbee487cb8169f251232a4c57412337dba9ebe2173febbff", hubSpotV1(secret, body))
	require.Equal(t, "e6944dbe65b438b9e37e44d5efe6fae8123412244bea8247109d2e3ccd5a63b5", hubSpotV2(secret, "POST", uri, body))
	sig, stamp := hubSpotV3(secret, "POST", uri, body, ts)
	require.Equal(t, "f0iZqcyQbBYogufnH6C/8NAtT2mLpRjerOqaoNPykUo=", sig)
	require.Equal(t, "1767225600000", stamp)
	sig, stamp = standardWebhooks([]byte("whsec_c2VjcmV0LWtleS1mb3Itc3RhbmRhcmQtd2ViaG9va3M="), "dlv_test_1", body, ts)
	require.Equal(t, "v1,w+kRMFesGnPCPc5FWuc9J1b59HQsS6yTafvnFpu7WE0=", sig)
	require.Equal(t, "1767225600", stamp)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, ok := retryAfter("2", now)
	require.True(t, ok)
	require.Equal(t, 2*time.Second, d)
	d, ok = retryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)
	require.True(t, ok)
	require.Equal(t, 30*time.Second, d)
	d, ok = retryAfter("0", now)
	require.True(t, ok)
	require.Equal(t, time.Second, d, "at least a second")
	for _, bad := range []string{"", "-1", "soon"} {
		_, ok = retryAfter(bad, now)
		require.False(t, ok, bad)
	}
}

func TestGuardRules(t *testing.T) {
	a, err := ParseAllowlist([]string{"127.0.0.1", "10.1.0.0/16", "hooks.internal"})
	require.NoError(t, err)
	for _, addr := range []string{"127.0.0.2:80", "192.168.1.1:443", "169.254.169.254:80", "[::1]:80", "0.0.0.0:80", "100.64.1.1:80", "[fd00:ec2::254]:80"} {
		err := a.control("tcp", addr, nil)
		var re *RefusedError
		require.ErrorAs(t, err, &re, addr)
	}
	for _, addr := range []string{"127.0.0.1:8080", "10.1.2.3:80", "93.184.215.14:443"} {
		require.NoError(t, a.control("tcp", addr, nil), addr)
	}
	require.True(t, a.hostAllowed("hooks.internal"))
	require.False(t, a.hostAllowed("hooks.example.com"))
	_, err = ParseAllowlist([]string{"http://x"})
	require.Error(t, err)
}
