package ledger

import (
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// dateLayout is how entry dates are written and stored on both engines;
// as text of fixed width they compare in calendar order.
const dateLayout = "2006-01-02"

// validDate reports whether s is a real calendar date as YYYY-MM-DD.
func validDate(s string) bool {
	t, err := time.Parse(dateLayout, s)
	return err == nil && t.Format(dateLayout) == s
}

// validate checks a posting before anything is written and returns every
// problem at once, each pointing at its field, so a client fixes them in
// one round trip. A draft may be saved unbalanced (it is work in
// progress); balance is required when it is posted.
func validate(p Posting, requireBalance bool) error {
	var fields []apperr.FieldError
	add := func(pointer, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: pointer, Detail: fmt.Sprintf(format, args...)})
	}
	if p.CompanyID == "" {
		add("/company_id", "is required")
	}
	if !validDate(p.Date) {
		add("/date", "must be a calendar date as YYYY-MM-DD, got %q", p.Date)
	}
	currencyOK := p.Currency.Valid()
	if !currencyOK {
		add("/currency", "must be a known ISO 4217 currency code, got %q", p.Currency)
	}
	// A source is all or nothing: a half-given triple could not make the
	// posting idempotent.
	if (p.SourceType == "") != (p.SourceID == "") || (p.SourceType == "" && p.Purpose != "") {
		add("/source_type", "source type, source id and purpose go together")
	}
	if len(p.Lines) < 2 {
		add("/lines", "an entry needs at least two lines, got %d", len(p.Lines))
	}
	var debits, credits money.Decimal
	linesOK := true
	for i, l := range p.Lines {
		ptr := fmt.Sprintf("/lines/%d", i)
		if strings.TrimSpace(l.AccountID) == "" {
			add(ptr+"/account_id", "is required")
		}
		if l.Debit.IsNegative() || l.Credit.IsNegative() {
			add(ptr, "debit and credit must not be negative (debit %s, credit %s)", l.Debit, l.Credit)
			linesOK = false
			continue
		}
		if l.Debit.IsZero() == l.Credit.IsZero() {
			add(ptr, "exactly one of debit and credit must be positive (debit %s, credit %s)", l.Debit, l.Credit)
			linesOK = false
			continue
		}
		for _, side := range []struct {
			name string
			v    money.Decimal
		}{{"debit", l.Debit}, {"credit", l.Credit}} {
			if currencyOK && !money.RoundAmount(side.v, p.Currency, money.HalfEven).Equal(side.v) {
				add(ptr+"/"+side.name, "%s has more decimal places than %s allows (%d)", side.v, p.Currency, p.Currency.MinorUnits())
				linesOK = false
			} else if _, err := side.v.Scaled(money.AmountScale); err != nil {
				add(ptr+"/"+side.name, "%s cannot be stored: %v", side.v, err)
				linesOK = false
			}
		}
		debits, credits = debits.Add(l.Debit), credits.Add(l.Credit)
	}
	// Decimal arithmetic is exact, so balance means equal to the last unit.
	if requireBalance && linesOK && len(p.Lines) >= 2 && !debits.Equal(credits) {
		add("/lines", "the entry does not balance: lines 0–%d debit %s and credit %s (difference %s)",
			len(p.Lines)-1, debits, credits, debits.Sub(credits))
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}
