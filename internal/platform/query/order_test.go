package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func field(t *testing.T, name string) Field {
	t.Helper()
	f, ok := testSchema.Lookup(name)
	if !ok {
		t.Fatalf("no field %q in testSchema", name)
	}
	return f
}

// paramErr asserts err is a 400 pointing at query:<param>.
func paramErr(t *testing.T, err error, param string) *apperr.Error {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apperr.Error", err, err)
	}
	if e.Code != apperr.BadRequest || len(e.Fields) != 1 || e.Fields[0].Pointer != "query:"+param {
		t.Fatalf("error = %#v, want BadRequest pointing at query:%s", e, param)
	}
	return e
}

func TestParseOrderBy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []Order
	}{
		{"", nil},
		{"  ", nil},
		{"name", []Order{{field(t, "name"), false}}},
		{"name desc, list_price", []Order{{field(t, "name"), true}, {field(t, "list_price"), false}}},
		{" qty  DESC ,name asc ", []Order{{field(t, "qty"), true}, {field(t, "name"), false}}},
		{"created_at desc,qty", []Order{{field(t, "created_at"), true}, {field(t, "qty"), false}}},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOrderBy(tt.in, testSchema)
			if err != nil {
				t.Fatalf("ParseOrderBy(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOrderBy(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseOrderByErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"nope", `cannot order by "nope"`},
		{"active", `cannot order by "active"`}, // filterable but not sortable
		{"status desc", `cannot order by "status"`},
		{"name desc, nope", `cannot order by "nope"`},
		{"p.name", `cannot order by "p.name"`},
		{"name, name desc", `"name" is named twice`},
		{"name up", `expected "desc" or "asc"`},
		{"name desc asc", `unexpected "asc"`},
		{"name qty", `expected "desc" or "asc", got "qty"`},
		{",", "item 1 of order_by is empty"},
		{"name,", "item 2 of order_by is empty"},
		{strings.Repeat("name,", 300), "at most 1000"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseOrderBy(tt.in, testSchema)
			if err == nil {
				t.Fatalf("ParseOrderBy(%q) succeeded, want 400", tt.in)
			}
			if e := paramErr(t, err, "order_by"); !strings.Contains(e.Fields[0].Detail, tt.want) {
				t.Errorf("detail = %q, want it to contain %q", e.Fields[0].Detail, tt.want)
			}
		})
	}
	_, err := ParseOrderBy("nope", testSchema)
	if e := paramErr(t, err, "order_by"); !strings.Contains(e.Fields[0].Detail, "name, list_price, qty, created_at") {
		t.Errorf("detail %q does not list the sortable fields", e.Fields[0].Detail)
	}
}

func TestOrderSQL(t *testing.T) {
	for _, tt := range []struct {
		orders []Order
		want   string
	}{
		{nil, "id ASC"},
		{[]Order{{field(t, "name"), false}}, "p.name ASC, id ASC"},
		{[]Order{{field(t, "name"), true}, {field(t, "list_price"), false}}, "p.name DESC, list_price_scaled ASC, id ASC"},
	} {
		if got := OrderSQL(tt.orders, "id"); got != tt.want {
			t.Errorf("OrderSQL(%+v) = %q, want %q", tt.orders, got, tt.want)
		}
	}
}

func TestKeyset(t *testing.T) {
	ts := time.Date(2025, 1, 31, 9, 0, 0, 123456789, time.UTC)
	for _, tt := range []struct {
		name     string
		order    string
		values   []any
		argStart int
		sql      string
		args     []any
	}{
		{"id only", "", nil, 1, "(id > $1)", []any{"p_9"}},
		{"asc", "qty", []any{int64(5)}, 1,
			"(qty_col >= $1 AND (qty_col > $1 OR (qty_col = $1 AND id > $2)))",
			[]any{int64(5), "p_9"}},
		{"desc", "qty desc", []any{int64(5)}, 1,
			"(qty_col <= $1 AND (qty_col < $1 OR (qty_col = $1 AND id > $2)))",
			[]any{int64(5), "p_9"}},
		{"mixed", "name desc, list_price", []any{"Widget", int64(95000)}, 3,
			"(p.name <= $3 AND (p.name < $3 OR (p.name = $3 AND list_price_scaled > $4) OR (p.name = $3 AND list_price_scaled = $4 AND id > $5)))",
			[]any{"Widget", int64(95000), "p_9"}},
		{"three, time as string", "created_at, qty desc, name", []any{"2025-01-31T10:00:00.123456789+01:00", int64(-1), "a"}, 1,
			"(created >= $1 AND (created > $1 OR (created = $1 AND qty_col < $2) OR (created = $1 AND qty_col = $2 AND p.name > $3) OR (created = $1 AND qty_col = $2 AND p.name = $3 AND id > $4)))",
			[]any{ts, int64(-1), "a", "p_9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := ParseOrderBy(tt.order, testSchema)
			if err != nil {
				t.Fatal(err)
			}
			sql, args, err := Keyset(orders, Cursor{Values: tt.values, ID: "p_9"}, "id", tt.argStart)
			if err != nil {
				t.Fatalf("Keyset: %v", err)
			}
			if sql != tt.sql {
				t.Errorf("Keyset SQL\n got %s\nwant %s", sql, tt.sql)
			}
			if len(args) != len(tt.args) {
				t.Fatalf("args = %#v, want %#v", args, tt.args)
			}
			for i := range args {
				if a, ok := args[i].(time.Time); ok {
					if w := tt.args[i].(time.Time); !a.Equal(w) || a.Location() != time.UTC {
						t.Errorf("arg %d = %v, want %v in UTC", i, a, w)
					}
				} else if args[i] != tt.args[i] {
					t.Errorf("arg %d = %#v, want %#v", i, args[i], tt.args[i])
				}
			}
		})
	}
}

// A cursor that does not fit the orders can only come from a token made
// for another request, so it is the page-token 400, not a 500.
func TestKeysetRejectsMismatchedCursor(t *testing.T) {
	orders, _ := ParseOrderBy("qty, created_at", testSchema)
	for _, tt := range []struct {
		name   string
		values []any
	}{
		{"too few", []any{int64(1)}},
		{"too many", []any{int64(1), "2025-01-01T00:00:00Z", "x"}},
		{"string for int", []any{"1", "2025-01-01T00:00:00Z"}},
		{"float for int", []any{1.0, "2025-01-01T00:00:00Z"}},
		{"bad time", []any{int64(1), "yesterday"}},
		{"nil", []any{nil, nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Keyset(orders, Cursor{Values: tt.values, ID: "x"}, "id", 1)
			paramErr(t, err, "page_token")
		})
	}
}

func TestNewCursor(t *testing.T) {
	orders, _ := ParseOrderBy("list_price, qty desc, name, created_at", testSchema)
	orders = append(orders, Order{Field: field(t, "active")}, Order{Field: field(t, "status")})
	local := time.FixedZone("X", 3600)
	c, err := NewCursor(orders, []any{
		money.MustParse("9.50"), 7, "Widget",
		time.Date(2025, 1, 31, 10, 0, 0, 500, local), int64(1), "draft",
	}, "p_1")
	if err != nil {
		t.Fatal(err)
	}
	want := Cursor{Values: []any{int64(95000), int64(7), "Widget", "2025-01-31T09:00:00.0000005Z", true, "draft"}, ID: "p_1"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("NewCursor = %#v\nwant %#v", c, want)
	}
	for _, bad := range [][]any{
		{money.MustParse("0.00001"), 7, "W", time.Now(), true, "draft"}, // beyond scale 4
		{int64(1), "7", "W", time.Now(), true, "draft"},
		{int64(1), 7, "W", time.Now(), int64(2), "draft"},
		{int64(1), 7, "W"},
	} {
		if _, err := NewCursor(orders, bad, "p_1"); err == nil {
			t.Errorf("NewCursor(%v) = nil error", bad)
		}
	}
}
