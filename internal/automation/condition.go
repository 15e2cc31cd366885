package automation

import (
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// parseCondition checks a condition when a rule is saved.
func parseCondition(s string) (query.Expr, error) {
	e, err := query.ParsePathFilter(s)
	if err != nil {
		return nil, apperr.Field("/condition", "%s", apperr.As(err).Message)
	}
	return e, nil
}

// holds evaluates a condition over an event (its CloudEvents JSON as a
// map). Fields are dotted paths (data.customer.id). Numbers compare as
// exact decimals, also when the event holds them as decimal strings
// ("12.50" > "9"), as lists compare amounts; an absent field matches only
// != .
func holds(e query.Expr, doc map[string]any) (bool, error) {
	switch x := e.(type) {
	case nil:
		return true, nil
	case *query.And:
		for _, t := range x.Terms {
			ok, err := holds(t, doc)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *query.Or:
		for _, t := range x.Terms {
			ok, err := holds(t, doc)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *query.Not:
		ok, err := holds(x.X, doc)
		return !ok, err
	case *query.Comparison:
		v, found := field(doc, x.Field)
		if !found {
			return x.Op == query.Ne, nil
		}
		return compare(v, x.Op, x.Value)
	}
	return false, fmt.Errorf("condition: unknown expression %T", e)
}

func field(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func compare(v any, op query.Op, lit query.Value) (bool, error) {
	var c int
	switch {
	case lit.Type == query.BoolValue:
		b, ok := v.(bool)
		if !ok || (op != query.Eq && op != query.Ne) {
			return false, nil
		}
		eq := b == (lit.Text == "true")
		return eq == (op == query.Eq), nil
	default:
		a, aok := decimalOf(v)
		b, berr := money.Parse(lit.Text)
		if aok && berr == nil {
			c = a.Cmp(b)
			break
		}
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		c = strings.Compare(s, lit.Text)
	}
	switch op {
	case query.Eq:
		return c == 0, nil
	case query.Ne:
		return c != 0, nil
	case query.Lt:
		return c < 0, nil
	case query.Le:
		return c <= 0, nil
	case query.Gt:
		return c > 0, nil
	case query.Ge:
		return c >= 0, nil
	}
	return false, nil
}

func decimalOf(v any) (money.Decimal, bool) {
	switch x := v.(type) {
	case float64:
		d, err := money.Parse(fmt.Sprint(x))
		return d, err == nil
	case string:
		d, err := money.Parse(x)
		return d, err == nil
	}
	return money.Decimal{}, false
}
