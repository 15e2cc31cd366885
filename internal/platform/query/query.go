// Package query turns the list parameters of the API (filter, order_by,
// page_size, page_token, fields) into SQL that runs unchanged on SQLite and
// PostgreSQL.
//
// Every value from the request becomes a bound argument ($1, $2, …); the
// only identifiers that reach SQL text are the columns of a [Schema], which
// the program declares. Resources keep their filterable and sortable fields
// in typed NOT NULL columns, so comparisons need no NULL handling and
// decimals compare as scaled integers (numerically, never as text).
//
// Paging is keyset paging: a page token carries the order values and id of
// the last row served, and the next page selects the rows strictly after it
// in the total order "order_by fields, then id". Rows inserted or deleted
// between pages therefore never shift a row from one page to another, so
// nothing present throughout is skipped or served twice.
//
// Every error a client can cause is an *apperr.Error with code BadRequest
// whose field error points at the parameter ("query:filter" …).
package query

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// Kind is the type of a filterable field, which decides the literals it
// accepts and the Go type bound for its column.
type Kind int

// The field kinds. The zero Kind is deliberately invalid so that a Field
// declared without one is caught by Schema.Validate instead of silently
// behaving as text.
const (
	String  Kind = iota + 1 // text column; quoted strings
	Decimal                 // BIGINT column holding value × 10^Scale; numbers or quoted decimals
	Int                     // BIGINT/INTEGER column; integers
	Bool                    // BOOLEAN column; true/false, only = and !=
	Time                    // TIMESTAMP(TZ) column holding UTC; quoted RFC 3339
	Enum                    // text column restricted to Values; only = and !=
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Decimal:
		return "decimal"
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case Time:
		return "timestamp"
	case Enum:
		return "enum"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field is one filterable field of a resource. Name is what clients write;
// Column is what SQL uses, and must be a trusted identifier.
type Field struct {
	Name     string
	Column   string
	Kind     Kind
	Scale    int32    // Decimal only: the column holds value × 10^Scale
	Values   []string // Enum only: the allowed values
	Sortable bool     // may appear in order_by
	// Encode, for a String field, turns the compared value into what the
	// column stores (a blind index of an encrypted value); such a field
	// compares only with = and !=, as the stored form keeps no order.
	Encode func(string) string
}

// Schema lists the fields a caller may filter on. Build it per request from
// what the caller may read, so filtering on a hidden field is "unknown
// field" (400) rather than a side channel.
type Schema []Field

// Lookup finds a field by its public name.
func (s Schema) Lookup(name string) (Field, bool) {
	for _, f := range s {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func (s Schema) names() string {
	names := make([]string, len(s))
	for i, f := range s {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

var (
	namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	// Columns may be qualified ("p.list_price") for queries with joins.
	columnPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
)

// Validate reports a programming error in the schema: names clients could
// not write, columns that are not plain identifiers, a decimal scale that
// cannot fit int64, an enum without values, or a duplicate name. Call it
// from a test or at start-up; the compilers trust the schema.
func (s Schema) Validate() error {
	seen := make(map[string]bool, len(s))
	for _, f := range s {
		switch {
		case !namePattern.MatchString(f.Name):
			return fmt.Errorf("query schema: field name %q is not snake_case", f.Name)
		case seen[f.Name]:
			return fmt.Errorf("query schema: field %q declared twice", f.Name)
		case !columnPattern.MatchString(f.Column):
			return fmt.Errorf("query schema: field %q: column %q is not a plain identifier", f.Name, f.Column)
		case f.Kind < String || f.Kind > Enum:
			return fmt.Errorf("query schema: field %q has no valid kind", f.Name)
		case f.Kind == Decimal && (f.Scale < 0 || f.Scale > 18):
			return fmt.Errorf("query schema: field %q: decimal scale %d outside 0…18", f.Name, f.Scale)
		case f.Kind == Enum && len(f.Values) == 0:
			return fmt.Errorf("query schema: enum field %q has no values", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// badRequest builds the error for a client mistake in one parameter. The
// message repeats the detail because the problem body shows the message as
// its "detail" and clients often read only that.
func badRequest(param, format string, args ...any) *apperr.Error {
	detail := fmt.Sprintf(format, args...)
	e := apperr.New(apperr.BadRequest, "Invalid %s: %s", param, detail)
	e.Fields = []apperr.FieldError{{Pointer: "query:" + param, Detail: detail}}
	return e
}

// quote renders client text inside an error message: quoted so blanks
// show, and cut short so a long parameter is not echoed back in full.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}
