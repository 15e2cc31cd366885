package query

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// Page token layout, before base64url: a version byte, the JSON cursor,
// and an HMAC-SHA256 tag over the version, the fingerprint and the JSON.
// The fingerprint itself is not in the token: binding it into the tag is
// enough to refuse a token presented with another filter, order or
// company, and it keeps the token short and free of the request's text.
const (
	tokenVersion = 1
	tagLen       = sha256.Size
	// MaxTokenLen bounds page_token; a longer one is refused before any
	// decoding, so hostile tokens cost no more than a legitimate one.
	MaxTokenLen = 8192
	// MinKeyLen is the shortest key DecodeToken accepts.
	MinKeyLen = 32
)

// tokenDomain separates these tags from any other HMAC made with the same
// key, so no other signed value can be replayed as a page token.
const tokenDomain = "mainstay/query/page-token/v1"

type tokenBody struct {
	V  []any  `json:"v"`
	ID string `json:"id"`
}

// Fingerprint combines the parameters that must not change between pages
// (filter, order_by, company, client) into one string for EncodeToken and
// DecodeToken. Each part is length-prefixed before hashing, so ("a,b", "c")
// and ("a", "b,c") differ.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func tag(key []byte, fingerprint string, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tokenDomain))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(fingerprint)))
	m.Write(n[:])
	m.Write([]byte(fingerprint))
	m.Write(msg)
	return m.Sum(nil)
}

// EncodeToken returns the next_page_token for a cursor: opaque, URL-safe
// and authenticated under key (at least MinKeyLen bytes, or DecodeToken
// refuses every token). The cursor's values must be JSON-safe (NewCursor
// makes them so); a value that cannot be encoded is a programming error,
// and yields a token that DecodeToken refuses rather than a panic.
func EncodeToken(key []byte, c Cursor, fingerprint string) string {
	values := c.Values
	if values == nil {
		values = []any{}
	}
	body, err := json.Marshal(tokenBody{V: values, ID: c.ID})
	if err != nil {
		body = nil
	}
	msg := append([]byte{tokenVersion}, body...)
	msg = append(msg, tag(key, fingerprint, msg)...)
	return base64.RawURLEncoding.EncodeToString(msg)
}

// badToken is the one error for every bad page token. It does not say which
// check failed: telling a forger whether the tag or the fingerprint was
// wrong would only help them.
func badToken() *apperr.Error {
	return badRequest("page_token", "the page token is not valid for this request; it may be damaged, or was issued for a different filter, order_by or company; start again without page_token")
}

// DecodeToken checks a page token against key and the fingerprint of the
// current request and returns its cursor. Values come back as int64, bool
// or string. Every failure is the same 400 at query:page_token, except a
// key shorter than MinKeyLen, which is a server fault.
func DecodeToken(key []byte, token, fingerprint string) (Cursor, error) {
	if len(key) < MinKeyLen {
		return Cursor{}, fmt.Errorf("decode page token: key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	// The decoder skips line breaks and Strict alone does not refuse them;
	// checking the alphabet first means one token has one spelling.
	if len(token) > MaxTokenLen || strings.IndexFunc(token, notBase64URL) >= 0 {
		return Cursor{}, badToken()
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 1+tagLen || raw[0] != tokenVersion {
		return Cursor{}, badToken()
	}
	msg, got := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	if !hmac.Equal(got, tag(key, fingerprint, msg)) {
		return Cursor{}, badToken()
	}
	c, err := parseCursor(msg[1:])
	if err != nil {
		return Cursor{}, badToken().Wrap(err)
	}
	return c, nil
}

func notBase64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// parseCursor reads the JSON of an authenticated token. It is still strict,
// because a token made by a buggy or older server must fail as a 400, not
// reach the SQL as a value of the wrong type.
func parseCursor(body []byte) (Cursor, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var tb tokenBody
	if err := dec.Decode(&tb); err != nil {
		return Cursor{}, fmt.Errorf("parse cursor: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Cursor{}, errors.New("parse cursor: trailing data")
	}
	c := Cursor{ID: tb.ID, Values: make([]any, len(tb.V))}
	for i, v := range tb.V {
		switch x := v.(type) {
		case string, bool:
			c.Values[i] = x
		case json.Number:
			n, err := toInt64(x)
			if err != nil {
				return Cursor{}, fmt.Errorf("parse cursor: value %d: %w", i, err)
			}
			c.Values[i] = n
		default:
			return Cursor{}, fmt.Errorf("parse cursor: value %d has type %T", i, v)
		}
	}
	return c, nil
}
