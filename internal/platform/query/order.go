package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// MaxOrderByBytes bounds order_by; with duplicates refused, the schema
// bounds the number of fields anyway, so this only caps the echoed text.
const MaxOrderByBytes = 1000

// Order is one field of order_by.
type Order struct {
	Field Field
	Desc  bool
}

// ParseOrderBy reads AIP-132 order_by: comma-separated field names, each
// optionally followed by "desc" (or "asc"). Empty means no explicit order
// (the id alone). An unknown or non-sortable field, or a field named twice,
// is a 400 pointing at query:order_by.
func ParseOrderBy(s string, schema Schema) ([]Order, error) {
	if len(s) > MaxOrderByBytes {
		return nil, badRequest("order_by", "order_by is %d bytes long; at most %d are allowed", len(s), MaxOrderByBytes)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var orders []Order
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		words := strings.Fields(part)
		if len(words) == 0 {
			return nil, badRequest("order_by", "item %d of order_by is empty", i+1)
		}
		name := words[0]
		desc := false
		if len(words) > 1 {
			switch strings.ToLower(words[1]) {
			case "desc":
				desc = true
			case "asc":
			default:
				return nil, badRequest("order_by", "after field %s expected \"desc\" or \"asc\", got %s", quote(name), quote(words[1]))
			}
		}
		if len(words) > 2 {
			return nil, badRequest("order_by", "unexpected %s after %s %s; separate fields with commas", quote(words[2]), quote(name), words[1])
		}
		f, ok := schema.Lookup(name)
		if !ok || !f.Sortable {
			return nil, badRequest("order_by", "cannot order by %s; the fields you can order by are: %s", quote(name), sortableNames(schema))
		}
		if seen[name] {
			return nil, badRequest("order_by", "field %s is named twice", quote(name))
		}
		seen[name] = true
		orders = append(orders, Order{Field: f, Desc: desc})
	}
	return orders, nil
}

func sortableNames(schema Schema) string {
	var names []string
	for _, f := range schema {
		if f.Sortable {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// OrderSQL returns the body of ORDER BY for the orders, ending with the id
// ascending. The id makes the order total, which keyset paging needs: with
// ties left to the database, a page boundary inside a run of equal values
// could skip or repeat rows. Keyset assumes this same order.
func OrderSQL(orders []Order, idColumn string) string {
	var b strings.Builder
	for _, o := range orders {
		b.WriteString(o.Field.Column)
		if o.Desc {
			b.WriteString(" DESC, ")
		} else {
			b.WriteString(" ASC, ")
		}
	}
	b.WriteString(idColumn)
	b.WriteString(" ASC")
	return b.String()
}

// Cursor is the position after which the next page starts: the last row's
// values of the order_by fields, in the cursor form (see NewCursor), and
// its id.
type Cursor struct {
	Values []any
	ID     string
}

// NewCursor builds the cursor for a row from the Go values of its order_by
// columns (values[i] belongs to orders[i]), as a store scanned them:
// Decimal takes money.Decimal or the scaled integer, Int any integer, Bool
// a bool, String and Enum a string, Time a time.Time. The cursor holds
// JSON-safe forms: int64 (decimals scaled), bool, string, and times as
// RFC 3339 strings in UTC with nanoseconds, which survive the page token.
func NewCursor(orders []Order, values []any, id string) (Cursor, error) {
	if len(values) != len(orders) {
		return Cursor{}, fmt.Errorf("query cursor: %d values for %d order fields", len(values), len(orders))
	}
	c := Cursor{Values: make([]any, len(values)), ID: id}
	for i, o := range orders {
		v, err := cursorValue(o.Field, values[i])
		if err != nil {
			return Cursor{}, fmt.Errorf("query cursor: field %q: %w", o.Field.Name, err)
		}
		c.Values[i] = v
	}
	return c, nil
}

// cursorValue converts v to the cursor form of f's kind.
func cursorValue(f Field, v any) (any, error) {
	switch f.Kind {
	case Decimal:
		if d, ok := v.(money.Decimal); ok {
			s, err := d.Scaled(f.Scale)
			if err != nil {
				return nil, fmt.Errorf("scale %s: %w", d, err)
			}
			return s, nil
		}
		return toInt64(v)
	case Int:
		return toInt64(v)
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			// SQLite has no boolean type and returns the stored 0 or 1.
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		}
	case String, Enum:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Time:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("parse time: %w", err)
			}
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return nil, fmt.Errorf("%T is not a cursor value for a %s field", v, f.Kind)
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case json.Number:
		return strconv.ParseInt(string(x), 10, 64)
	}
	return 0, fmt.Errorf("%T is not an integer", v)
}

// bindValue turns a cursor value back into the argument bound for f's
// column: times become time.Time again so both drivers encode them as they
// encode stored times.
func bindValue(f Field, v any) (any, error) {
	cv, err := cursorValue(f, v)
	if err != nil {
		return nil, err
	}
	if f.Kind == Time {
		return time.Parse(time.RFC3339Nano, cv.(string))
	}
	return cv, nil
}

// Keyset returns a condition selecting the rows strictly after the cursor
// in the order OrderSQL(orders, idColumn) gives, for any mix of
// directions:
//
//	(a > x) OR (a = x AND b < y) OR (a = x AND b = y AND id > z)
//
// preceded by "a >= x AND" (or <=) so the database can seek on an index of
// the first column instead of scanning. Each cursor value is bound once
// and its placeholder repeated. A cursor that does not fit the orders
// (wrong count or types) is a bad page token: 400 at query:page_token.
func Keyset(orders []Order, c Cursor, idColumn string, argStart int) (sql string, args []any, err error) {
	if argStart < 1 {
		return "", nil, fmt.Errorf("keyset: placeholders start at $1, not $%d", argStart)
	}
	if len(c.Values) != len(orders) {
		return "", nil, badToken()
	}
	args = make([]any, 0, len(orders)+1)
	cols := make([]string, 0, len(orders)+1)
	ops := make([]string, 0, len(orders)+1)
	for i, o := range orders {
		v, err := bindValue(o.Field, c.Values[i])
		if err != nil {
			return "", nil, badToken()
		}
		args = append(args, v)
		cols = append(cols, o.Field.Column)
		if o.Desc {
			ops = append(ops, "<")
		} else {
			ops = append(ops, ">")
		}
	}
	args = append(args, c.ID)
	cols = append(cols, idColumn)
	ops = append(ops, ">")

	ph := func(i int) string { return "$" + strconv.Itoa(argStart+i) }
	var b strings.Builder
	b.WriteString("(")
	if len(orders) > 0 {
		fmt.Fprintf(&b, "%s %s= %s AND (", cols[0], ops[0], ph(0))
	}
	for i := range cols {
		if i > 0 {
			b.WriteString(" OR (")
			for j := 0; j < i; j++ {
				fmt.Fprintf(&b, "%s = %s AND ", cols[j], ph(j))
			}
		}
		fmt.Fprintf(&b, "%s %s %s", cols[i], ops[i], ph(i))
		if i > 0 {
			b.WriteString(")")
		}
	}
	if len(orders) > 0 {
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String(), args, nil
}
