package query

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// testSchema has one field of each kind. Columns differ from names so a
// test catches SQL that uses the public name.
var testSchema = Schema{
	{Name: "name", Column: "p.name", Kind: String, Sortable: true},
	{Name: "list_price", Column: "list_price_scaled", Kind: Decimal, Scale: 4, Sortable: true},
	{Name: "qty", Column: "qty_col", Kind: Int, Sortable: true},
	{Name: "active", Column: "is_active", Kind: Bool},
	{Name: "created_at", Column: "created", Kind: Time, Sortable: true},
	{Name: "status", Column: "state", Kind: Enum, Values: []string{"draft", "confirmed", "cancelled"}},
}

func TestSchemaValidate(t *testing.T) {
	if err := testSchema.Validate(); err != nil {
		t.Fatalf("testSchema.Validate() = %v", err)
	}
	for _, tt := range []struct {
		name string
		s    Schema
	}{
		{"no kind", Schema{{Name: "a", Column: "a"}}},
		{"upper-case name", Schema{{Name: "A", Column: "a", Kind: String}}},
		{"column with SQL", Schema{{Name: "a", Column: "a; DROP TABLE x", Kind: String}}},
		{"duplicate", Schema{{Name: "a", Column: "a", Kind: String}, {Name: "a", Column: "b", Kind: Int}}},
		{"scale too big", Schema{{Name: "a", Column: "a", Kind: Decimal, Scale: 19}}},
		{"enum without values", Schema{{Name: "a", Column: "a", Kind: Enum}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); err == nil {
				t.Errorf("Validate() = nil, want an error")
			}
		})
	}
}

func compile(t *testing.T, filter string, argStart int) (string, []any, error) {
	t.Helper()
	e, err := ParseFilter(filter)
	if err != nil {
		return "", nil, err
	}
	return CompileFilter(e, testSchema, argStart)
}

func TestCompileFilter(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	for _, tt := range []struct {
		name     string
		filter   string
		argStart int
		sql      string
		args     []any
	}{
		{"empty", "", 1, "", nil},
		{"blank", " \t\n ", 1, "", nil},
		{"one comparison", `name = "Widget"`, 1, `p.name = $1`, []any{"Widget"}},
		{"no spaces", `qty>=3`, 1, `qty_col >= $1`, []any{int64(3)}},
		{"numbered from argStart", `name = "a" AND qty = 1`, 4, `(p.name = $4 AND qty_col = $5)`, []any{"a", int64(1)}},

		// Precedence (AIP-160): OR binds tighter than AND.
		{"a AND b OR c", `name = "a" AND qty = 1 OR qty = 2`, 1,
			`(p.name = $1 AND (qty_col = $2 OR qty_col = $3))`, []any{"a", int64(1), int64(2)}},
		{"a OR b AND c", `qty = 1 OR qty = 2 AND name = "a"`, 1,
			`((qty_col = $1 OR qty_col = $2) AND p.name = $3)`, []any{int64(1), int64(2), "a"}},
		{"implicit AND binds looser than OR", `name = "a" qty = 1 OR qty = 2`, 1,
			`(p.name = $1 AND (qty_col = $2 OR qty_col = $3))`, []any{"a", int64(1), int64(2)}},
		{"a OR b OR c AND d OR e", `qty = 1 OR qty = 2 OR qty = 3 AND qty = 4 OR qty = 5`, 1,
			`((qty_col = $1 OR qty_col = $2 OR qty_col = $3) AND (qty_col = $4 OR qty_col = $5))`,
			[]any{int64(1), int64(2), int64(3), int64(4), int64(5)}},
		{"parentheses override", `(name = "a" AND qty = 1) OR qty = 2`, 1,
			`((p.name = $1 AND qty_col = $2) OR qty_col = $3)`, []any{"a", int64(1), int64(2)}},
		{"nested parentheses", `((qty = 1))`, 1, `qty_col = $1`, []any{int64(1)}},
		{"AND chain is flat", `qty = 1 AND qty = 2 qty = 3 AND (qty = 4 AND qty = 5)`, 1,
			`(qty_col = $1 AND qty_col = $2 AND qty_col = $3 AND qty_col = $4 AND qty_col = $5)`,
			[]any{int64(1), int64(2), int64(3), int64(4), int64(5)}},

		// NOT and "-".
		{"NOT", `NOT qty = 1`, 1, `NOT (qty_col = $1)`, []any{int64(1)}},
		{"minus", `-qty = 1`, 1, `NOT (qty_col = $1)`, []any{int64(1)}},
		{"NOT binds tighter than OR", `NOT qty = 1 OR qty = 2`, 1,
			`(NOT (qty_col = $1) OR qty_col = $2)`, []any{int64(1), int64(2)}},
		{"NOT of a group", `NOT (qty = 1 OR qty = 2)`, 1,
			`NOT (qty_col = $1 OR qty_col = $2)`, []any{int64(1), int64(2)}},
		{"NOT without space before (", `NOT(qty = 1)`, 1, `NOT (qty_col = $1)`, []any{int64(1)}},
		{"minus of a group", `-(qty = 1 AND qty = 2)`, 1,
			`NOT (qty_col = $1 AND qty_col = $2)`, []any{int64(1), int64(2)}},
		{"minus after a term is a new term", `qty = 1 -qty = 2`, 1,
			`(qty_col = $1 AND NOT (qty_col = $2))`, []any{int64(1), int64(2)}},

		// Every operator.
		{"=", `qty = 7`, 1, `qty_col = $1`, []any{int64(7)}},
		{"!=", `qty != 7`, 1, `qty_col <> $1`, []any{int64(7)}},
		{"<", `qty < 7`, 1, `qty_col < $1`, []any{int64(7)}},
		{"<=", `qty <= 7`, 1, `qty_col <= $1`, []any{int64(7)}},
		{">", `qty > 7`, 1, `qty_col > $1`, []any{int64(7)}},
		{">=", `qty >= 7`, 1, `qty_col >= $1`, []any{int64(7)}},
		{"negative int", `qty > -7`, 1, `qty_col > $1`, []any{int64(-7)}},

		// Decimals compare as scaled integers (scale 4 here).
		{"decimal quoted", `list_price >= "100"`, 1, `list_price_scaled >= $1`, []any{int64(1_000_000)}},
		{"decimal number", `list_price < 9.5`, 1, `list_price_scaled < $1`, []any{int64(95_000)}},
		{"decimal at full scale", `list_price = "0.0001"`, 1, `list_price_scaled = $1`, []any{int64(1)}},
		{"decimal negative", `list_price > -12.25`, 1, `list_price_scaled > $1`, []any{int64(-122_500)}},
		{"decimal trailing zeros beyond scale are exact", `list_price = "1.000000"`, 1, `list_price_scaled = $1`, []any{int64(10_000)}},

		{"string escapes", `name = "say \"hi\" \\ ok"`, 1, `p.name = $1`, []any{`say "hi" \ ok`}},
		{"string with SQL stays an argument", `name = "'; DROP TABLE p; --"`, 1, `p.name = $1`, []any{`'; DROP TABLE p; --`}},
		{"unicode string", `name = "Müller – 東京"`, 1, `p.name = $1`, []any{"Müller – 東京"}},
		{"string ordering", `name < "m"`, 1, `p.name < $1`, []any{"m"}},
		{"enum =", `status = "confirmed"`, 1, `state = $1`, []any{"confirmed"}},
		{"enum !=", `status != "draft"`, 1, `state <> $1`, []any{"draft"}},
		{"bool true", `active = true`, 1, `is_active = $1`, []any{true}},
		{"bool false !=", `active != false`, 1, `is_active <> $1`, []any{false}},
		{"time to UTC", `created_at >= "2025-01-31T10:00:00+01:00"`, 1, `created >= $1`, []any{utc("2025-01-31T09:00:00Z")}},
		{"time with fraction", `created_at < "2025-01-31T09:00:00.123456Z"`, 1, `created < $1`, []any{utc("2025-01-31T09:00:00.123456Z")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sql, args, err := compile(t, tt.filter, tt.argStart)
			if err != nil {
				t.Fatalf("compile(%q) error: %v", tt.filter, err)
			}
			if sql != tt.sql {
				t.Errorf("compile(%q) SQL\n got %s\nwant %s", tt.filter, sql, tt.sql)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("compile(%q) args\n got %#v\nwant %#v", tt.filter, args, tt.args)
			}
		})
	}
}

// TestParsePrecedenceTree checks the tree itself, not only its SQL, so a
// compiler that happened to print the right parentheses could not hide a
// wrong parse.
func TestParsePrecedenceTree(t *testing.T) {
	e, err := ParseFilter(`a = 1 AND b = 2 OR c = 3`)
	if err != nil {
		t.Fatal(err)
	}
	and, ok := e.(*And)
	if !ok || len(and.Terms) != 2 {
		t.Fatalf("top = %#v, want And of 2", e)
	}
	if c, ok := and.Terms[0].(*Comparison); !ok || c.Field != "a" {
		t.Errorf("first term = %#v, want comparison on a", and.Terms[0])
	}
	or, ok := and.Terms[1].(*Or)
	if !ok || len(or.Terms) != 2 {
		t.Fatalf("second term = %#v, want Or of 2", and.Terms[1])
	}
	if c := or.Terms[1].(*Comparison); c.Field != "c" || c.Op != Eq || c.Value != (Value{NumberValue, "3", 23}) || c.Pos != 19 {
		t.Errorf("last comparison = %#v", c)
	}
}

// filterErr asserts err is the 400 every client mistake in a filter must be.
func filterErr(t *testing.T, err error) *apperr.Error {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apperr.Error", err, err)
	}
	if e.Code != apperr.BadRequest {
		t.Errorf("code = %q, want %q", e.Code, apperr.BadRequest)
	}
	if len(e.Fields) != 1 || e.Fields[0].Pointer != "query:filter" {
		t.Fatalf("fields = %#v, want one pointing at query:filter", e.Fields)
	}
	return e
}

func TestFilterErrors(t *testing.T) {
	for _, tt := range []struct {
		name, filter string
		want         []string // substrings of the detail
	}{
		// Unknown fields.
		{"unknown field", `nope = 1`, []string{`unknown field "nope"`, "at character 1", "list_price"}},
		{"unknown field later", `qty = 1 AND nope = 1`, []string{`unknown field "nope"`, "at character 13"}},
		{"column name is not a field", `qty_col = 1`, []string{`unknown field "qty_col"`}},

		// Syntax.
		{"missing value", `qty = `, []string{"expected a value", "at end of filter"}},
		{"missing operator", `qty 1`, []string{"comparison operator", "at character 5"}},
		{"bare field", `qty`, []string{"comparison operator", "at end of filter"}},
		{"unclosed paren", `(qty = 1`, []string{"expected ')'", "at end of filter"}},
		{"extra paren", `qty = 1)`, []string{"')' has no matching '('", "at character 8"}},
		{"empty parens", `()`, []string{"empty parentheses", "at character 1"}},
		{"unclosed string", `name = "abc`, []string{"not closed", "at character 8"}},
		{"bad escape", `name = "a\nb"`, []string{"unknown escape", "at character 10"}},
		{"NUL in string", "name = \"a\x00b\"", []string{"NUL", "at character 10"}},
		{"==", `qty == 1`, []string{"'=='", "at character 5"}},
		{"<>", `qty <> 1`, []string{"'<>'", "at character 5"}},
		{"bang", `qty ! 1`, []string{"'!'", "at character 5"}},
		{"has operator", `name:"x"`, []string{"':'", "at character 5"}},
		{"traversal", `a.b = 1`, []string{"traversal", "at character 2"}},
		{"single quotes", `name = 'x'`, []string{"double quotes", "at character 8"}},
		{"lower-case and", `qty = 1 and qty = 2`, []string{"upper case", "at character 9"}},
		{"double NOT", `NOT NOT qty = 1`, []string{"negated again", "at character 5"}},
		{"unquoted text", `name = abc`, []string{"double quotes", "at character 8"}},
		{"exponent", `qty = 1e5`, []string{`"1e5" is not a number`, "at character 7"}},
		{"two dots", `list_price = 1.2.3`, []string{"not a number", "at character 14"}},
		{"leading AND", `AND qty = 1`, []string{"expected a comparison, found AND", "at character 1"}},
		{"trailing AND", `qty = 1 AND`, []string{"expected a field name", "at end of filter"}},
		{"trailing OR", `qty = 1 OR`, []string{"expected a field name", "at end of filter"}},
		{"number as field", `5 = qty`, []string{"expected a field name", "at character 1"}},
		{"value then operator", `qty = 1 = 2`, []string{"unexpected '='", "at character 9"}},
		{"minus before value", `qty = - 1`, []string{"expected a value", "at character 7"}},
		{"odd character", `qty = 1 ; DROP`, []string{"unexpected character ';'", "at character 9"}},
		{"position counts characters, not bytes", `name = "é" AND nope = 1`, []string{"at character 16"}},
		{"invalid UTF-8", "name = \"\xff\"", []string{"UTF-8", "at character 9"}},

		// Types.
		{"int as string", `qty = "1"`, []string{`field "qty" expects an integer`, `the string "1"`, "at character 7"}},
		{"int with decimals", `qty = 1.5`, []string{"expects an integer", "1.5"}},
		{"int overflow", `qty = 99999999999999999999`, []string{"out of range"}},
		{"string as number", `name = 1`, []string{"expects a string"}},
		{"bool as number", `active = 1`, []string{"expects true or false"}},
		{"bool ordering", `active > false`, []string{"only be compared with = and !="}},
		{"enum unknown value", `status = "bogus"`, []string{`expects one of "draft", "confirmed", "cancelled"`, `"bogus"`}},
		{"enum unquoted", `status = draft`, []string{"double quotes"}},
		{"enum ordering", `status < "draft"`, []string{"only be compared with = and !="}},
		{"time not RFC 3339", `created_at > "yesterday"`, []string{"RFC 3339"}},
		{"time date only", `created_at > "2025-01-31"`, []string{"RFC 3339"}},
		{"time as number", `created_at > 5`, []string{"RFC 3339"}},
		{"time past year 9999 in UTC", `created_at > "9999-12-31T23:00:00-02:00"`, []string{"out of range"}},
		{"time in year 0", `created_at > "0000-06-01T00:00:00Z"`, []string{"out of range"}},
		{"decimal as bool", `list_price = true`, []string{"expects a decimal"}},
		{"decimal text", `list_price = "abc"`, []string{"expects a decimal"}},
		{"decimal exponent string", `list_price = "1e3"`, []string{"expects a decimal"}},
		{"decimal over scale", `list_price >= 9.50001`, []string{"at most 4 decimal places", "at character 15"}},
		{"decimal over scale quoted", `list_price >= "0.00001"`, []string{"at most 4 decimal places"}},
		{"decimal overflow", `list_price = 999999999999999999`, []string{"out of range"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := compile(t, tt.filter, 1)
			if err == nil {
				t.Fatalf("compile(%q) succeeded, want a 400", tt.filter)
			}
			e := filterErr(t, err)
			for _, w := range tt.want {
				if !strings.Contains(e.Fields[0].Detail, w) {
					t.Errorf("compile(%q) detail = %q, want it to contain %q", tt.filter, e.Fields[0].Detail, w)
				}
			}
			if !strings.Contains(e.Message, e.Fields[0].Detail) {
				t.Errorf("message %q does not carry the detail %q", e.Message, e.Fields[0].Detail)
			}
		})
	}
}

func TestFilterLimits(t *testing.T) {
	comparisons := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "qty = 1"
		}
		return strings.Join(parts, " OR ")
	}
	nested := func(depth int) string {
		return strings.Repeat("(", depth) + "qty = 1" + strings.Repeat(")", depth)
	}
	padded := func(n int) string { // a valid filter of exactly n bytes
		return `name = "` + strings.Repeat("x", n-len(`name = ""`)) + `"`
	}
	for _, tt := range []struct {
		name   string
		filter string
		want   string // "" = accepted; else a substring of the detail
	}{
		{"50 comparisons", comparisons(50), ""},
		{"51 comparisons", comparisons(51), "more than 50 comparisons"},
		{"depth 10", nested(10), ""},
		{"depth 11", nested(11), "nested more than 10 deep"},
		{"depth 11 spread out", "qty = 1 AND " + nested(11), "nested more than 10 deep"},
		{"2000 bytes", padded(2000), ""},
		{"2001 bytes", padded(2001), "2001 bytes long; at most 2000"},
		{"huge", strings.Repeat("(", 1<<20), "at most 2000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := compile(t, tt.filter, 1)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want a 400 containing %q", tt.want)
			}
			if e := filterErr(t, err); !strings.Contains(e.Fields[0].Detail, tt.want) {
				t.Errorf("detail = %q, want it to contain %q", e.Fields[0].Detail, tt.want)
			}
		})
	}
}

// A caller building an Expr by hand gets errors, not panics, for trees
// the parser never makes.
func TestCompileMalformedTree(t *testing.T) {
	for _, e := range []Expr{
		&And{},
		&Or{Terms: []Expr{nil}},
		&Not{},
		&Comparison{Field: "qty", Op: "~", Value: Value{NumberValue, "1", 0}},
	} {
		if _, _, err := CompileFilter(e, testSchema, 1); err == nil {
			t.Errorf("CompileFilter(%#v) = nil error", e)
		}
	}
	if _, _, err := CompileFilter(&Comparison{Field: "qty", Op: Eq, Value: Value{NumberValue, "1", 0}}, testSchema, 0); err == nil {
		t.Error("argStart 0 accepted")
	}
}

// Every placeholder in the SQL has exactly one argument, in order; checked
// over a filter that uses every kind.
func TestPlaceholdersMatchArgs(t *testing.T) {
	sql, args, err := compile(t, `name = "a" list_price > 1 OR qty < 2 AND NOT (active = true OR status = "draft") -created_at > "2025-01-01T00:00:00Z"`, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range args {
		if want := fmt.Sprintf("$%d", i+3); strings.Count(sql, want) != 1 {
			t.Errorf("SQL %s has %s %d times, want once", sql, want, strings.Count(sql, want))
		}
	}
	if strings.Count(sql, "$") != len(args) {
		t.Errorf("SQL %s has %d placeholders for %d args", sql, strings.Count(sql, "$"), len(args))
	}
}
