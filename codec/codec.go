// Package codec encrypts Temporal payloads with AES-256-GCM, so trigger
// data, step outputs and answers are ciphertext in Temporal history and the
// cluster's database. It is off unless keys are configured.
//
// Keys form a ring: the first encrypts, every key decrypts, so a key is
// rotated by putting the new one first and keeping the old one until no
// open run or retained history needs it. Each payload names its key in its
// metadata.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Payload metadata of an encrypted payload.
const (
	MetadataEncoding  = converter.MetadataEncoding // "encoding"
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// SecretName is the secret holding the key ring ("id:base64key,..."):
// HOOKFLOW_SECRET_CODEC_KEYS, or a file codec_keys in --secrets-dir.
const SecretName = "codec_keys"

// ErrUnknownKey is returned for a payload encrypted with a key this
// process does not hold.
var ErrUnknownKey = errors.New("unknown encryption key")

type key struct {
	id   string
	aead cipher.AEAD
}

// Codec is a converter.PayloadCodec.
type Codec struct {
	active *key
	byID   map[string]*key
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Parse reads a key ring: comma-separated "id:key" entries, each key 32
// bytes in standard or URL-safe base64 (openssl rand -base64 32). The first
// entry encrypts. Errors name the entry, never a key.
func Parse(spec string) (*Codec, error) {
	c := &Codec{byID: map[string]*key{}}
	for i, entry := range strings.Split(strings.TrimSpace(spec), ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok || id == "" || b64 == "" {
			return nil, fmt.Errorf("codec keys: entry %d: want id:base64key", i+1)
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("codec keys: entry %d: key id %q: use 1 to 64 letters, digits, '.', '_' or '-'", i+1, id)
		}
		if _, dup := c.byID[id]; dup {
			return nil, fmt.Errorf("codec keys: entry %d: key id %q is listed twice", i+1, id)
		}
		raw, err := decodeKey(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("codec keys: entry %d (%s): the key must be 32 bytes in base64 (AES-256)", i+1, id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("codec keys: entry %d (%s): %w", i+1, id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec keys: entry %d (%s): %w", i+1, id, err)
		}
		k := &key{id: id, aead: aead}
		c.byID[id] = k
		if c.active == nil {
			c.active = k
		}
	}
	return c, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// ActiveKeyID is the id of the key that encrypts.
func (c *Codec) ActiveKeyID() string { return c.active.id }

// Encode encrypts each payload whole (metadata and data), so even the
// payload's encoding is hidden. The key id is the additional data: a
// payload whose key id was altered fails to decrypt.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		nonce := make([]byte, c.active.aead.NonceSize(), c.active.aead.NonceSize()+len(plain)+c.active.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(c.active.id)},
			Data:     c.active.aead.Seal(nonce, nonce, plain, []byte(c.active.id)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes others through unchanged,
// so histories written before encryption was turned on stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		k, ok := c.byID[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with key %q: %w (add it to %s)", id, ErrUnknownKey, SecretName)
		}
		ns := k.aead.NonceSize()
		if len(p.GetData()) < ns {
			return nil, fmt.Errorf("payload encrypted with key %q: too short", id)
		}
		plain, err := k.aead.Open(nil, p.Data[:ns], p.Data[ns:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payload encrypted with key %q: cannot be decrypted (wrong key or altered payload)", id)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("payload encrypted with key %q: %w", id, err)
		}
		out[i] = &dec
	}
	return out, nil
}

// Apply makes a Temporal client (and the workers built on it) encrypt and
// decrypt every payload, and move failure messages and stack traces into
// an encrypted payload too: an error message can quote trigger data.
func (c *Codec) Apply(opts *sdkclient.Options) {
	opts.DataConverter = converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          opts.DataConverter,
		EncodeCommonAttributes: true,
	})
}
