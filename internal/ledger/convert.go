package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/ledger/fx"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// one is the rate of the company currency into itself.
var one = money.FromInt(1)

// convert turns a validated posting into the lines to store: each line's
// company-currency amount from its transaction currency, and, when
// complete is set (posting, not saving a draft), the line the ledger adds
// so that the entry balances exactly in the company currency:
//
//   - when a line settles an earlier foreign-currency line, the difference
//     between today's value and the carrying value is the realized exchange
//     gain or loss, to the accounts with roles fx_gain and fx_loss;
//   - otherwise a difference no larger than the rounding of the converted
//     lines (half a minor unit each) goes to the rounding account;
//   - anything larger means the lines do not balance: 422.
func convert(ctx context.Context, tx *db.Tx, p Posting, complete bool) ([]EntryLine, error) {
	base := p.Currency
	lines := make([]EntryLine, 0, len(p.Lines)+1)
	var (
		sum       money.Decimal
		converted int
		settles   bool
	)
	for i, l := range p.Lines {
		cur := l.Currency
		if cur == "" {
			cur = base
		}
		txn := l.Debit.Sub(l.Credit)
		amount, rate := txn, one
		switch {
		case l.Settles != nil:
			var err error
			if amount, rate, err = carrying(ctx, tx, p.CompanyID, base, i, l, cur, txn); err != nil {
				return nil, err
			}
			settles = settles || cur != base
		case cur == base:
		default:
			rate = l.Rate
			if rate.IsZero() {
				r, _, err := fx.Lookup(ctx, tx, p.CompanyID, cur, p.Date)
				if errors.Is(err, fx.ErrNoRate) {
					return nil, apperr.Field(fmt.Sprintf("/lines/%d/currency", i),
						"No exchange rate of %s into %s on or before %s; add one at /v1/exchange-rates or give the line a rate.", cur, base, p.Date)
				}
				if err != nil {
					return nil, err
				}
				rate = r
			}
			amount = money.RoundAmount(txn.Mul(rate), base, money.HalfEven)
			converted++
			if amount.IsZero() {
				return nil, apperr.Field(fmt.Sprintf("/lines/%d", i), "%s %s converts to 0 %s at rate %s; a line must carry an amount.",
					txn.Abs(), cur, base, rate)
			}
		}
		if _, err := amount.Scaled(money.AmountScale); err != nil {
			return nil, apperr.Field(fmt.Sprintf("/lines/%d", i), "%s %s converts to %s %s, which cannot be stored: %v", txn.Abs(), cur, amount.Abs(), base, err)
		}
		lines = append(lines, newLine(len(lines)+1, l.AccountID, amount, cur, txn, rate.Normalize(), "", l.Settles, l.Memo))
		sum = sum.Add(amount)
	}
	if !complete || sum.IsZero() {
		return lines, nil
	}
	role, kind := "rounding", LineRounding
	switch {
	case settles && sum.IsNegative():
		role, kind = "fx_loss", LineFXLoss
	case settles:
		role, kind = "fx_gain", LineFXGain
	default:
		// Each converted line is off by at most half a minor unit.
		half := money.New(5, -base.MinorUnits()-1)
		if sum.Abs().Cmp(half.Mul(money.FromInt(int64(converted)))) > 0 {
			return nil, apperr.Field("/lines", "the entry does not balance in %s after conversion: difference %s; lines in several currencies must balance in the company currency",
				base, sum)
		}
	}
	account, err := roleAccount(ctx, tx, p.CompanyID, role)
	if err != nil {
		return nil, err
	}
	memo := "Conversion rounding"
	if kind != LineRounding {
		memo = "Realized exchange difference"
	}
	diff := sum.Neg()
	return append(lines, newLine(len(lines)+1, account, diff, base, diff, one, kind, nil, memo)), nil
}

// newLine builds a stored line from a signed company-currency amount
// (debit positive) and its transaction-currency figure.
func newLine(no int, account string, amount money.Decimal, cur money.Currency, txn, rate money.Decimal, kind string, settles *LineRef, memo string) EntryLine {
	l := EntryLine{LineNo: no, AccountID: account, TxnCurrency: cur, TxnAmount: txn, Rate: rate, Kind: kind, Settles: settles, Memo: memo}
	if amount.IsNegative() {
		l.Credit = amount.Neg()
	} else {
		l.Debit = amount
	}
	return l
}

// carrying values a line that settles (part of) an earlier foreign-currency
// line at that line's carrying value: the part of its company-currency
// amount still open, in proportion to the transaction amount settled, and
// all of what is left when the rest is settled — so a line settled in
// several payments is taken off exactly. The line settled is locked, so
// two concurrent payments cannot settle more than it holds.
func carrying(ctx context.Context, tx *db.Tx, companyID string, base money.Currency, i int, l Line, cur money.Currency, txn money.Decimal) (money.Decimal, money.Decimal, error) {
	ptr := fmt.Sprintf("/lines/%d/settles", i)
	open, err := openItem(ctx, tx, companyID, *l.Settles)
	if err != nil {
		return money.Decimal{}, money.Decimal{}, err
	}
	if !open.found {
		return money.Decimal{}, money.Decimal{}, apperr.Field(ptr, "No posted line %d in journal entry %q of this company.", l.Settles.LineNo, l.Settles.EntryID)
	}
	if open.account != l.AccountID || open.currency != cur {
		return money.Decimal{}, money.Decimal{}, apperr.Field(ptr, "The line settled is %s on account %s; a settlement posts the same currency to the same account.", open.currency, open.account)
	}
	if open.txn.IsZero() {
		return money.Decimal{}, money.Decimal{}, apperr.New(apperr.Conflict, "Line %d of journal entry %s is settled in full.", l.Settles.LineNo, l.Settles.EntryID).
			WithFields(apperr.FieldError{Pointer: ptr, Detail: "settled in full"})
	}
	if open.txn.Sign() == txn.Sign() {
		return money.Decimal{}, money.Decimal{}, apperr.Field(ptr, "A settlement posts the other side of the line it settles (that line is a %s).", side(open.txn))
	}
	if txn.Abs().Cmp(open.txn.Abs()) > 0 {
		return money.Decimal{}, money.Decimal{}, apperr.New(apperr.Conflict, "Line %d of journal entry %s has %s %s open; this settles %s.",
			l.Settles.LineNo, l.Settles.EntryID, open.txn.Abs(), cur, txn.Abs()).WithFields(apperr.FieldError{Pointer: ptr, Detail: "more than is open"})
	}
	if txn.Neg().Equal(open.txn) {
		return money.RoundAmount(open.amount.Neg(), base, money.HalfEven), open.rate, nil
	}
	// A part keeps at least a minor unit on each side: a line must carry
	// an amount, and so must what stays open (else its last settlement
	// would have none). Proportion rounded half-even, then kept inside.
	unit := money.New(1, -base.MinorUnits())
	rest := open.amount.Abs()
	if rest.Cmp(unit.Add(unit)) < 0 {
		return money.Decimal{}, money.Decimal{}, apperr.Field(ptr, "Line %d of journal entry %s has %s %s open at a carrying value of %s %s, too little to divide; settle it in full.",
			l.Settles.LineNo, l.Settles.EntryID, open.txn.Abs(), cur, rest, base)
	}
	v, err := open.amount.Mul(txn).DivRound(open.txn, base.MinorUnits(), money.HalfEven)
	if err != nil {
		return money.Decimal{}, money.Decimal{}, fmt.Errorf("carrying value of %s line %d: %w", l.Settles.EntryID, l.Settles.LineNo, err)
	}
	mag := v.Abs()
	if mag.Cmp(unit) < 0 {
		mag = unit
	} else if most := rest.Sub(unit); mag.Cmp(most) > 0 {
		mag = most
	}
	if txn.IsNegative() {
		return mag.Neg(), open.rate, nil
	}
	return mag, open.rate, nil
}

func side(v money.Decimal) string {
	if v.IsNegative() {
		return "credit"
	}
	return "debit"
}

// companyLines are the stored lines of a posting whose lines are all in
// the company currency (bulk loads, which take no rates).
func companyLines(p Posting) []EntryLine {
	lines := make([]EntryLine, len(p.Lines))
	for i, l := range p.Lines {
		amount := l.Debit.Sub(l.Credit)
		lines[i] = newLine(i+1, l.AccountID, amount, p.Currency, amount, one, "", nil, l.Memo)
	}
	return lines
}

// OpenAmount is what is left to settle of a posted line (an invoice's
// receivable): its transaction-currency and company-currency amounts,
// signed as the line (debit positive), less every posted settlement.
// found is false for a line that does not exist in the company.
func OpenAmount(ctx context.Context, tx *db.Tx, companyID string, ref LineRef) (txn, amount money.Decimal, found bool, err error) {
	o, err := openItem(ctx, tx, companyID, ref)
	return o.txn, o.amount, o.found, err
}
