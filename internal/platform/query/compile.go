package query

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

var sqlOp = map[Op]string{Eq: "=", Ne: "<>", Lt: "<", Le: "<=", Gt: ">", Ge: ">="}

// CompileFilter turns a parsed filter into a SQL boolean expression over
// the schema's columns, with every value a bound argument numbered from
// argStart. A nil Expr compiles to "" (no condition). A compound result is
// parenthesised, so it can be joined to other conditions with AND as is.
// Errors name the field and the character where the problem is.
func CompileFilter(e Expr, schema Schema, argStart int) (sql string, args []any, err error) {
	if e == nil {
		return "", nil, nil
	}
	if argStart < 1 {
		return "", nil, fmt.Errorf("compile filter: placeholders start at $1, not $%d", argStart)
	}
	c := &compiler{schema: schema, next: argStart}
	var b strings.Builder
	if err := c.expr(&b, e); err != nil {
		return "", nil, err
	}
	return b.String(), c.args, nil
}

type compiler struct {
	schema Schema
	next   int
	args   []any
}

func (c *compiler) placeholder(v any) string {
	c.args = append(c.args, v)
	c.next++
	return "$" + strconv.Itoa(c.next-1)
}

// expr writes e, parenthesising every compound so the SQL reads the same
// whatever the database's own precedence rules are.
func (c *compiler) expr(b *strings.Builder, e Expr) error {
	switch n := e.(type) {
	case *Comparison:
		return c.comparison(b, n)
	case *Not:
		if _, ok := n.X.(*Comparison); ok {
			b.WriteString("NOT (")
			if err := c.expr(b, n.X); err != nil {
				return err
			}
			b.WriteString(")")
			return nil
		}
		b.WriteString("NOT ")
		return c.expr(b, n.X)
	case *And:
		return c.join(b, n.Terms, " AND ")
	case *Or:
		return c.join(b, n.Terms, " OR ")
	case nil:
		return errors.New("compile filter: nil expression")
	default:
		return fmt.Errorf("compile filter: unknown expression %T", e)
	}
}

func (c *compiler) join(b *strings.Builder, terms []Expr, sep string) error {
	if len(terms) == 0 {
		return errors.New("compile filter: empty AND or OR")
	}
	b.WriteString("(")
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		if err := c.expr(b, t); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

func (c *compiler) comparison(b *strings.Builder, n *Comparison) error {
	f, ok := c.schema.Lookup(n.Field)
	if !ok {
		return compileError(n.Pos, "unknown field %s; the fields you can filter on are: %s", quote(n.Field), c.schema.names())
	}
	op, ok := sqlOp[n.Op]
	if !ok {
		return compileError(n.Pos, "unknown operator %s", quote(string(n.Op)))
	}
	if (f.Kind == Bool || f.Kind == Enum) && n.Op != Eq && n.Op != Ne {
		return compileError(n.Pos, "field %s is a %s; it can only be compared with = and !=", quote(f.Name), f.Kind)
	}
	if f.Encode != nil && n.Op != Eq && n.Op != Ne {
		return compileError(n.Pos, "field %s is stored encrypted; it can only be compared with = and !=", quote(f.Name))
	}
	v, err := literal(f, n.Value)
	if err != nil {
		return err
	}
	if s, ok := v.(string); ok && f.Encode != nil {
		v = f.Encode(s)
	}
	b.WriteString(f.Column)
	b.WriteString(" ")
	b.WriteString(op)
	b.WriteString(" ")
	b.WriteString(c.placeholder(v))
	return nil
}

// literal converts a filter value to the Go value bound for f's column.
func literal(f Field, v Value) (any, error) {
	wrongType := func(want string) error {
		return compileError(v.Pos, "field %s expects %s, got %s", quote(f.Name), want, describeValue(v))
	}
	switch f.Kind {
	case String:
		if v.Type != StringValue {
			return nil, wrongType(`a string in double quotes`)
		}
		return v.Text, nil
	case Enum:
		if v.Type != StringValue || !slices.Contains(f.Values, v.Text) {
			return nil, compileError(v.Pos, "field %s expects one of %s, got %s",
				quote(f.Name), quoteAll(f.Values), describeValue(v))
		}
		return v.Text, nil
	case Decimal:
		if v.Type != StringValue && v.Type != NumberValue {
			return nil, wrongType(`a decimal number like "12.50"`)
		}
		d, err := money.Parse(v.Text)
		if err != nil {
			return nil, wrongType(`a decimal number like "12.50"`)
		}
		scaled, err := d.Scaled(f.Scale)
		switch {
		case errors.Is(err, money.ErrPrecision):
			return nil, compileError(v.Pos, "field %s has at most %d decimal places; %s has more", quote(f.Name), f.Scale, quote(v.Text))
		case err != nil:
			return nil, compileError(v.Pos, "%s is out of range for field %s", quote(v.Text), quote(f.Name))
		}
		return scaled, nil
	case Int:
		if v.Type != NumberValue || strings.Contains(v.Text, ".") {
			return nil, wrongType("an integer")
		}
		i, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return nil, compileError(v.Pos, "%s is out of range for field %s", quote(v.Text), quote(f.Name))
		}
		return i, nil
	case Bool:
		if v.Type != BoolValue {
			return nil, wrongType("true or false")
		}
		return v.Text == "true", nil
	case Time:
		if v.Type != StringValue {
			return nil, wrongType(`an RFC 3339 time in double quotes, like "2025-01-31T09:00:00Z"`)
		}
		t, err := time.Parse(time.RFC3339Nano, v.Text)
		if err != nil {
			return nil, wrongType(`an RFC 3339 time like "2025-01-31T09:00:00Z"`)
		}
		// Outside four-digit years SQLite's text timestamps stop sorting
		// in time order, so such a bound would compare wrongly there.
		if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
			return nil, compileError(v.Pos, "%s is out of range for field %s (years 0001 to 9999)", quote(v.Text), quote(f.Name))
		}
		return t, nil
	}
	return nil, fmt.Errorf("compile filter: field %q has invalid kind %v", f.Name, f.Kind)
}

func describeValue(v Value) string {
	switch v.Type {
	case StringValue:
		return "the string " + quote(v.Text)
	case NumberValue:
		return "the number " + v.Text
	default:
		return v.Text
	}
}

func quoteAll(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
