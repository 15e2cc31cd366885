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
	if p.Kind != KindNormal && p.Kind != KindClosing {
		add("/kind", "must be empty or %q, got %q", KindClosing, p.Kind)
	}
	if len(p.Lines) < 2 {
		add("/lines", "an entry needs at least two lines, got %d", len(p.Lines))
	}
	// Sums per transaction currency: an entry whose lines share one
	// currency must balance in it exactly; one that mixes currencies is
	// checked in the company currency after conversion.
	type sums struct{ debit, credit money.Decimal }
	byCurrency := map[money.Currency]*sums{}
	linesOK := true
	for i, l := range p.Lines {
		ptr := fmt.Sprintf("/lines/%d", i)
		if strings.TrimSpace(l.AccountID) == "" {
			add(ptr+"/account_id", "is required")
		}
		cur, curOK := p.Currency, currencyOK
		if l.Currency != "" {
			cur, curOK = l.Currency, l.Currency.Valid()
			if !curOK {
				add(ptr+"/currency", "must be a known ISO 4217 currency code, got %q", l.Currency)
				linesOK = false
			}
		}
		if !l.Rate.IsZero() {
			if l.Rate.IsNegative() {
				add(ptr+"/rate", "must be positive, got %s", l.Rate)
			} else if _, err := l.Rate.Scaled(money.RateScale); err != nil {
				add(ptr+"/rate", "at most %d decimal places", money.RateScale)
			}
			if cur == p.Currency {
				add(ptr+"/rate", "a line in the company currency has no rate")
			}
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
			if curOK && !money.RoundAmount(side.v, cur, money.HalfEven).Equal(side.v) {
				add(ptr+"/"+side.name, "%s has more decimal places than %s allows (%d)", side.v, cur, cur.MinorUnits())
				linesOK = false
			} else if _, err := side.v.Scaled(money.AmountScale); err != nil {
				add(ptr+"/"+side.name, "%s cannot be stored: %v", side.v, err)
				linesOK = false
			}
		}
		s := byCurrency[cur]
		if s == nil {
			s = &sums{}
			byCurrency[cur] = s
		}
		s.debit, s.credit = s.debit.Add(l.Debit), s.credit.Add(l.Credit)
	}
	// Decimal arithmetic is exact, so balance means equal to the last unit.
	if requireBalance && linesOK && len(p.Lines) >= 2 && len(byCurrency) == 1 {
		for cur, s := range byCurrency {
			if !s.debit.Equal(s.credit) {
				add("/lines", "the entry does not balance: lines 0–%d debit %s %s and credit %s %s (difference %s)",
					len(p.Lines)-1, s.debit, cur, s.credit, cur, s.debit.Sub(s.credit))
			}
		}
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}
