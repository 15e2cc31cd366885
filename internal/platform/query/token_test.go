package query

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

var testKey = bytes.Repeat([]byte("k"), 32)

func TestTokenRoundTrip(t *testing.T) {
	fp := Fingerprint(`status = "draft"`, "name desc", "co_1", "cli_1")
	for _, c := range []Cursor{
		{Values: nil, ID: "p_1"},
		{Values: []any{int64(-9223372036854775808), int64(9223372036854775807)}, ID: "p_2"},
		{Values: []any{true, false, "", "Müller \"quoted\" \x01", "2025-01-31T09:00:00.0000005Z"}, ID: "p_3"},
	} {
		tok := EncodeToken(testKey, c, fp)
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not base64url without padding", tok)
		}
		got, err := DecodeToken(testKey, tok, fp)
		if err != nil {
			t.Fatalf("DecodeToken(%q): %v", tok, err)
		}
		if c.Values == nil {
			c.Values = []any{}
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip = %#v, want %#v", got, c)
		}
	}
}

// The token must not show the request's filter or company to whoever
// holds it; only the cursor is inside.
func TestTokenDoesNotCarryTheFingerprintText(t *testing.T) {
	fp := "filter=secret-company-name"
	raw, _ := base64.RawURLEncoding.DecodeString(EncodeToken(testKey, Cursor{ID: "p_1"}, fp))
	if bytes.Contains(raw, []byte("secret")) {
		t.Errorf("token bytes %q contain the fingerprint text", raw)
	}
}

// wantBadToken checks err is the one generic page-token 400.
func wantBadToken(t *testing.T, err error) {
	t.Helper()
	e := paramErr(t, err, "page_token")
	if want := badToken(); e.Message != want.Message || e.Fields[0].Detail != want.Fields[0].Detail {
		t.Errorf("error = %q / %q, want the one generic message", e.Message, e.Fields[0].Detail)
	}
}

func TestDecodeTokenRejects(t *testing.T) {
	fp := Fingerprint("qty > 1", "name", "co_1", "cli_1")
	good := EncodeToken(testKey, Cursor{Values: []any{"Widget", int64(5)}, ID: "p_1"}, fp)

	t.Run("other fingerprint", func(t *testing.T) {
		for _, other := range []string{
			Fingerprint("qty > 2", "name", "co_1", "cli_1"),
			Fingerprint("qty > 1", "name desc", "co_1", "cli_1"),
			Fingerprint("qty > 1", "name", "co_2", "cli_1"),
			Fingerprint("qty > 1", "name", "co_1", "cli_2"),
			"",
		} {
			_, err := DecodeToken(testKey, good, other)
			wantBadToken(t, err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		_, err := DecodeToken(bytes.Repeat([]byte("j"), 32), good, fp)
		wantBadToken(t, err)
	})
	t.Run("every character edited", func(t *testing.T) {
		for i := range good {
			for _, r := range []byte{'A', 'f', '-', '_', '0'} {
				if good[i] == r {
					continue
				}
				edited := good[:i] + string(r) + good[i+1:]
				_, err := DecodeToken(testKey, edited, fp)
				if err == nil {
					t.Fatalf("token edited at %d to %q accepted", i, r)
				}
				wantBadToken(t, err)
			}
		}
	})
	t.Run("every byte flipped", func(t *testing.T) {
		raw, _ := base64.RawURLEncoding.DecodeString(good)
		for i := range raw {
			edited := bytes.Clone(raw)
			edited[i] ^= 0x01
			_, err := DecodeToken(testKey, base64.RawURLEncoding.EncodeToString(edited), fp)
			wantBadToken(t, err)
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for i := range len(good) {
			_, err := DecodeToken(testKey, good[:i], fp)
			wantBadToken(t, err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, g := range []string{
			"", "=", "abc", good + "=", good + "A", good + "\n", good[:10] + "\n" + good[10:], " " + good,
			base64.StdEncoding.EncodeToString(mustDecode(t, good)), // the +/ alphabet, padded
			strings.Repeat("A", MaxTokenLen+1),
			base64.RawURLEncoding.EncodeToString([]byte{tokenVersion}),
			base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0}, 100)),
			"%00", "🙂",
		} {
			_, err := DecodeToken(testKey, g, fp)
			wantBadToken(t, err)
		}
	})
	t.Run("signed but malformed cursor", func(t *testing.T) {
		// Made with the key, so only the JSON checks stand between these and
		// the SQL: a buggy or older server must not be able to inject a
		// float, null or object as a cursor value.
		for _, body := range []string{
			``, `{}x`, `[]`, `{"v":[1.5],"id":"a"}`, `{"v":[null],"id":"a"}`, `{"v":[{}],"id":"a"}`,
			`{"v":[[1]],"id":"a"}`, `{"v":[1e3],"id":"a"}`, `{"v":[],"id":"a","x":1}`, `{"v":[],"id":"a"} {}`,
			`{"v":[99999999999999999999],"id":"a"}`,
		} {
			msg := append([]byte{tokenVersion}, body...)
			tok := base64.RawURLEncoding.EncodeToString(append(msg, tag(testKey, fp, msg)...))
			_, err := DecodeToken(testKey, tok, fp)
			if err == nil {
				t.Errorf("cursor %s accepted", body)
				continue
			}
			wantBadToken(t, err)
		}
	})
	t.Run("short key is a server fault", func(t *testing.T) {
		_, err := DecodeToken([]byte("short"), good, fp)
		if err == nil || apperr.CodeOf(err) != apperr.Internal {
			t.Errorf("short key: err = %v, want an internal error", err)
		}
	})
}

func mustDecode(t *testing.T, tok string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A cursor that cannot be encoded makes a token that is refused later
// instead of a panic now.
func TestEncodeTokenUnencodableValue(t *testing.T) {
	tok := EncodeToken(testKey, Cursor{Values: []any{make(chan int)}, ID: "x"}, "fp")
	_, err := DecodeToken(testKey, tok, "fp")
	wantBadToken(t, err)
}

func TestFingerprintSeparatesParts(t *testing.T) {
	seen := map[string][]string{}
	for _, parts := range [][]string{
		{"a,b", "c"}, {"a", "b,c"}, {"ab", "c"}, {"a", "bc"}, {"abc"}, {"abc", ""}, {"", "abc"}, {},
	} {
		fp := Fingerprint(parts...)
		if prev, ok := seen[fp]; ok {
			t.Errorf("Fingerprint(%q) = Fingerprint(%q)", parts, prev)
		}
		seen[fp] = parts
	}
	a, b := Fingerprint("a", "b"), Fingerprint("a", "b")
	if a != b {
		t.Error("Fingerprint is not deterministic")
	}
}
