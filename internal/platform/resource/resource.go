// Package resource is the engine behind the API's master-data resources
// (companies, products, customers, …). A module declares a Spec — its Go
// type, the fields projected into typed columns for filtering, ordering and
// uniqueness, its references and its business rules — and the engine gives
// it the conventions of DESIGN §4 once: create, get, list with filters and
// stable pages, merge-patch with ETags, external-id upserts, deletes that
// refuse referenced records, each write audited and published as an event
// in the same transaction.
//
// A record is stored as its JSON representation (the "doc" column, exactly
// what the API returns) plus typed projections of the fields that queries
// need; the engine writes both from the one struct, so they cannot
// disagree. Modules with ledgers, stock or other rows that change by
// business rules (not by a client's PATCH) keep hand-written tables.
package resource

import (
	"context"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// Meta is embedded by every resource type.
type Meta struct {
	ID         string    `json:"id" readOnly:"true" doc:"Opaque identifier with a type prefix."`
	ExternalID string    `json:"external_id,omitempty" maxLength:"255" pattern:"^[\\x20-\\x7e]*$" doc:"Your system's identifier for this record (any printable string, e.g. gid://shopify/Product/1), unique per company and resource; PUT …/external/{external_id} upserts by it."`
	CreatedAt  time.Time `json:"created_at" readOnly:"true"`
	UpdatedAt  time.Time `json:"updated_at" readOnly:"true"`
}

func (m *Meta) meta() *Meta { return m }

// Owned is embedded by resource types that belong to a company.
type Owned struct {
	CompanyID string `json:"company_id" required:"false" doc:"The company the record belongs to. Required on create when the client works in more than one company; it cannot change."`
}

func (o *Owned) owned() *Owned { return o }

// Record is what every resource type is: a struct embedding Meta.
type Record interface{ meta() *Meta }

type ownedRecord interface{ owned() *Owned }

// ID returns the id of a record (a pointer to a type embedding Meta), or
// "" for anything else.
func ID(v any) string {
	if r, ok := v.(Record); ok {
		return r.meta().ID
	}
	return ""
}

// Column projects one field into a typed column, for filters, order_by and
// uniqueness. Columns must be NOT NULL (absent values project as "", 0 or
// false) so that keyset pagination never meets a NULL.
type Column[T any] struct {
	query.Field
	Value  func(*T) any
	Unique bool // unique per company; a duplicate is 409 naming the field
	// Blind stores a keyed blind index of the (string) value instead of
	// the value, for members kept encrypted; filters on it compare the
	// index, with = and != only.
	Blind bool
}

// Ref declares that a record points at records of another resource.
type Ref[T any] struct {
	Pointer string // where the reference is, e.g. "/tax_category_id"
	Target  string // the target resource's plural, e.g. "tax-categories"
	IDs     func(*T) []string
}

// Spec declares a resource.
type Spec[T any] struct {
	Module   string // "catalog": scopes catalog:read/write; events mainstay.catalog.…
	Plural   string // "products": the path /v1/products
	Singular string // "product": events, audit and docs
	Title    string // "Product"
	Prefix   string // "prod": ids prod_…
	Table    string // defaults to Plural with "-" as "_"
	// Scoped resources belong to a company (their type embeds Owned).
	Scoped  bool
	Columns []Column[T]
	Refs    []Ref[T]
	// Defaults fill members a create or upsert body leaves out.
	Defaults map[string]any
	// Validate checks business rules on a complete record; each failure
	// names its field.
	Validate func(ctx context.Context, v *T) []apperr.FieldError
	// BeforeWrite checks rules that need other rows (a parent account's
	// type, a duplicate over several members) inside the write
	// transaction, after Validate and the uniqueness and reference checks,
	// so the records v refers to are known to exist in its company. Its
	// apperr errors reach the client; any other error is a 500.
	BeforeWrite func(ctx context.Context, tx *db.Tx, v *T) error
	// Description documents the resource in the OpenAPI document.
	Description string
	// Sensitive maps members to the scope needed to read or write them.
	Sensitive map[string]string
	// Encrypted lists the members stored encrypted, each under the
	// record's own data key (so erasing the record's personal data is
	// destroying one key).
	Encrypted []string
}

func (s *Spec[T]) table() string {
	if s.Table != "" {
		return s.Table
	}
	b := []byte(s.Plural)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}
