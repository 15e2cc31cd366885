package query

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// sqlAlphabet is every character CompileFilter may emit given testSchema:
// identifiers, operators, placeholders, parentheses and spaces. Quotes,
// semicolons and dashes are absent, so no input text can reach the SQL.
const sqlAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789.$()<>= "

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		``, `name = "a"`, `name = "a" AND qty = 1 OR qty = 2`, `NOT (qty = 1 OR -qty = 2)`,
		`list_price >= "100"`, `list_price < 9.505`, `active = true`, `status != "draft"`,
		`created_at > "2025-01-31T09:00:00+01:00"`, `((((qty = 1))))`, `name = "\"\\"`,
		`qty = 1e5`, `a.b = 1`, `name:"x"`, `qty == 1`, `qty = 1)`, `(qty = 1`, `name = "unterminated`,
		"name = \"\xff\"", "name = \"\x00\"", `- - qty = 1`, `NOT NOT a = 1`, `qty = -`, `qty = --1`,
		strings.Repeat("(", 12) + "qty = 1" + strings.Repeat(")", 12),
		strings.Repeat("qty = 1 ", 51),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(s)
		if err != nil {
			checkBadRequest(t, err, "query:filter")
			return
		}
		sql, args, err := CompileFilter(e, testSchema, 1)
		if err != nil {
			checkBadRequest(t, err, "query:filter")
			return
		}
		if e == nil {
			if sql != "" || args != nil {
				t.Fatalf("nil filter compiled to %q, %v", sql, args)
			}
			return
		}
		if i := strings.IndexFunc(sql, func(r rune) bool { return !strings.ContainsRune(sqlAlphabet, r) }); i >= 0 {
			t.Fatalf("SQL %q has %q, outside the alphabet of columns and operators", sql, sql[i])
		}
		if strings.Count(sql, "$") != len(args) || (len(args) > 0 && !strings.Contains(sql, "$"+strconv.Itoa(len(args)))) {
			t.Fatalf("SQL %q does not match its %d args", sql, len(args))
		}
		if len(args) > MaxFilterComparisons {
			t.Fatalf("%d args, more than the limit of %d comparisons", len(args), MaxFilterComparisons)
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	const fp = "fingerprint"
	for _, s := range []string{
		"", "A", "AA", "AAA=", "____", "-_-_", "\n", "%",
		EncodeToken(testKey, Cursor{ID: "p_1"}, fp),
		EncodeToken(testKey, Cursor{Values: []any{int64(5), "x", true}, ID: "p_2"}, fp),
		EncodeToken(testKey, Cursor{Values: []any{"2025-01-31T09:00:00Z"}, ID: "p_3"}, "other"),
	} {
		f.Add(s)
	}
	orders, err := ParseOrderBy("qty desc, name, created_at", testSchema)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeToken(testKey, s, fp)
		if err != nil {
			checkBadRequest(t, err, "query:page_token")
			return
		}
		// Only tokens we made get here; they must still compile safely or
		// fail as a page-token 400 when they do not fit the order.
		if _, _, err := Keyset(orders, c, "id", 1); err != nil {
			checkBadRequest(t, err, "query:page_token")
		}
		if again := EncodeToken(testKey, c, fp); again != s {
			t.Fatalf("accepted token %q re-encodes as %q: a token has more than one spelling", s, again)
		}
	})
}

func checkBadRequest(t *testing.T, err error, pointer string) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.BadRequest {
		t.Fatalf("error %v (%T) is not a BadRequest *apperr.Error", err, err)
	}
	if len(e.Fields) != 1 || e.Fields[0].Pointer != pointer {
		t.Fatalf("error fields %#v, want one at %s", e.Fields, pointer)
	}
}
