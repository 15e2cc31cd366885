package query

import (
	"slices"
	"strconv"
	"strings"
)

// Page sizes (AIP-158): 0 or absent means the default, and a larger size
// than the maximum is lowered to it rather than refused, so a client asking
// for "everything" still gets pages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// ParsePageSize reads page_size. Only plain decimal digits are accepted (an
// optional "-" is recognised to say "negative" rather than "not a number").
func ParsePageSize(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	digits, negative := strings.CutPrefix(s, "-")
	if !allDigits(digits) {
		return 0, badRequest("page_size", "page_size must be a whole number from 0 to %d, got %s", MaxPageSize, quote(s))
	}
	// Strip zeros first so "0000000000001" is 1 and a long run of digits is
	// "too large", not an overflow error.
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return DefaultPageSize, nil
	}
	if negative {
		return 0, badRequest("page_size", "page_size must not be negative, got %s", quote(s))
	}
	if len(digits) > 4 {
		return MaxPageSize, nil
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, badRequest("page_size", "page_size must be a whole number from 0 to %d, got %s", MaxPageSize, quote(s))
	}
	return min(n, MaxPageSize), nil
}

// ParseFields reads a partial-response field list ("id,name,list_price"),
// keeping the client's order and dropping repeats. Empty means all fields
// (nil). A name not in allowed, or an empty item, is a 400 at query:fields.
func ParseFields(s string, allowed []string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		name := strings.TrimSpace(p)
		switch {
		case name == "":
			return nil, badRequest("fields", "item %d of fields is empty", i+1)
		case !slices.Contains(allowed, name):
			return nil, badRequest("fields", "unknown field %s; the fields are: %s", quote(name), strings.Join(allowed, ", "))
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	return out, nil
}
