package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/codec"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func plain(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestRoundTripHidesPlaintextAndNamesTheKey(t *testing.T) {
	c, err := codec.Parse("k1:" + newKey(t))
	require.NoError(t, err)
	in := plain(t, map[string]string{"email": "jane@example.com"})

	enc, err := c.Encode([]*commonpb.Payload{in})
	require.NoError(t, err)
	require.Equal(t, "binary/encrypted", string(enc[0].Metadata["encoding"]))
	require.Equal(t, "k1", string(enc[0].Metadata["encryption-key-id"]))
	require.False(t, bytes.Contains(enc[0].Data, []byte("jane@example.com")))
	require.False(t, bytes.Contains(enc[0].Data, []byte("json/plain")), "the inner encoding is hidden too")

	// Two encryptions of one payload differ (fresh nonce).
	again, err := c.Encode([]*commonpb.Payload{in})
	require.NoError(t, err)
	require.NotEqual(t, enc[0].Data, again[0].Data)

	dec, err := c.Decode(enc)
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &got))
	require.Equal(t, "jane@example.com", got["email"])
}

func TestRotation(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	before, err := codec.Parse("2025:" + oldKey)
	require.NoError(t, err)
	enc, err := before.Encode([]*commonpb.Payload{plain(t, "written before the rotation")})
	require.NoError(t, err)

	// The new key goes first and encrypts; the old one still decrypts.
	after, err := codec.Parse("2026:" + newKey + ",2025:" + oldKey)
	require.NoError(t, err)
	require.Equal(t, "2026", after.ActiveKeyID())
	_, err = after.Decode(enc)
	require.NoError(t, err)
	fresh, err := after.Encode([]*commonpb.Payload{plain(t, "x")})
	require.NoError(t, err)
	require.Equal(t, "2026", string(fresh[0].Metadata["encryption-key-id"]))

	// Dropping the old key too early is a clear error naming the key.
	only, err := codec.Parse("2026:" + newKey)
	require.NoError(t, err)
	_, err = only.Decode(enc)
	require.ErrorIs(t, err, codec.ErrUnknownKey)
	require.Contains(t, err.Error(), `"2025"`)
}

func TestTamperedPayloadsAreRefused(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	c, err := codec.Parse("a:" + k1 + ",b:" + k2)
	require.NoError(t, err)
	enc, err := c.Encode([]*commonpb.Payload{plain(t, "v")})
	require.NoError(t, err)

	relabelled := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("binary/encrypted"), "encryption-key-id": []byte("b")}, Data: enc[0].Data}
	_, err = c.Decode([]*commonpb.Payload{relabelled})
	require.ErrorContains(t, err, "cannot be decrypted")

	flipped := bytes.Clone(enc[0].Data)
	flipped[len(flipped)-1] ^= 1
	_, err = c.Decode([]*commonpb.Payload{{Metadata: enc[0].Metadata, Data: flipped}})
	require.ErrorContains(t, err, "cannot be decrypted")

	_, err = c.Decode([]*commonpb.Payload{{Metadata: enc[0].Metadata, Data: []byte{1, 2}}})
	require.ErrorContains(t, err, "too short")
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	c, err := codec.Parse("k:" + newKey(t))
	require.NoError(t, err)
	p := plain(t, "from before encryption was on")
	dec, err := c.Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Same(t, p, dec[0])
}

func TestParseErrorsNameTheEntryNotTheKey(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	good := newKey(t)
	for spec, want := range map[string]string{
		"":                           "entry 1: want id:base64key",
		"nokey":                      "entry 1: want id:base64key",
		"k1:" + short:                "entry 1 (k1): the key must be 32 bytes",
		"k1:" + good + ",k2:%%%":     "entry 2 (k2): the key must be 32 bytes",
		"k1:" + good + ",k1:" + good: `entry 2: key id "k1" is listed twice`,
		"bad id:" + good:             `key id "bad id"`,
	} {
		_, err := codec.Parse(spec)
		require.ErrorContains(t, err, want, spec)
		require.NotContains(t, err.Error(), good)
		require.NotContains(t, err.Error(), short)
	}
	// URL-safe base64 without padding is accepted too.
	raw := make([]byte, 32)
	_, err := codec.Parse("k:" + base64.RawURLEncoding.EncodeToString(raw))
	require.NoError(t, err)
}
