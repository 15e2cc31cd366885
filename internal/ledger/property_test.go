package ledger_test

// Property-based tests of the ledger's invariants (pgregory.net/rapid):
// random sequences of postings, foreign-currency invoices and their
// settlements, exchange-rate changes, reversals, and period closes and
// reopens, on both engines, checked after every step against a model; and
// random workloads posted concurrently on PostgreSQL.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// books is a company with the accounts the properties post to.
type books struct {
	company                      string
	bank, ar, revenue, expense   string // bank is flagged non-negative
	equity, rounding, gain, loss string
	periods                      []periods.Period
	all                          []string
}

// newBooks creates a company, its accounts and fiscal year 2026 with raw
// SQL: the ledger sees accounts only through the accounts table.
func newBooks(t interface {
	Helper()
	Fatalf(string, ...any)
}, d *db.DB) books {
	t.Helper()
	ctx := context.Background()
	b := books{company: id.New("co")}
	err := d.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO companies (id, version, created_at, updated_at, doc, legal_name, base_currency, active)
VALUES ($1, 1, $2, $2, '{}', 'Property Ltd', 'EUR', true)`, b.company, now); err != nil {
			return err
		}
		for _, a := range []struct {
			ref             *string
			code, typ, role string
			nonNegative     bool
		}{
			{&b.bank, "1000", "asset", "bank", true}, {&b.ar, "1100", "asset", "receivables", false},
			{&b.equity, "3000", "equity", "", false}, {&b.revenue, "4000", "income", "revenue", false},
			{&b.expense, "6000", "expense", "", false}, {&b.gain, "4900", "income", "fx_gain", false},
			{&b.loss, "6900", "expense", "fx_loss", false}, {&b.rounding, "6950", "expense", "rounding", false},
		} {
			*a.ref = id.New("acct")
			b.all = append(b.all, *a.ref)
			if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, company_id, version, created_at, updated_at, doc, code, name, type, parent_id, role, non_negative, active)
VALUES ($1, $2, 1, $3, $3, '{}', $4, $4, $5, '', $6, $7, true)`, *a.ref, b.company, now, a.code, a.typ, a.role, a.nonNegative); err != nil {
				return err
			}
		}
		var err error
		b.periods, err = periods.CreateYear(ctx, tx, b.company, 2026, "01-01")
		return err
	})
	if err != nil {
		t.Fatalf("set up books: %v", err)
	}
	return b
}

// openItem is a USD receivable the model tracks to its settlement.
type openItem struct {
	ref                 ledger.LineRef
	txn, base           money.Decimal // still open
	origTxn, settledSum money.Decimal // settledSum: company-currency amounts taken off so far
	origBase            money.Decimal
	settlements         int
}

// model is what the books must say.
type model struct {
	balances  map[string]money.Decimal
	snapshots map[string]ledger.Entry // as posted, reversed_by left out
	reversed  map[string]bool
	rates     map[string]money.Decimal
	closed    map[int]bool // period number → closed
	items     []*openItem
	posted    int
}

func (m *model) apply(e ledger.Entry) {
	for _, l := range e.Lines {
		m.balances[l.AccountID] = m.balances[l.AccountID].Add(l.Debit).Sub(l.Credit)
	}
	e.ReversedBy = ""
	m.snapshots[e.ID] = e
	m.posted++
}

// settled reports whether an entry's open items have settlements.
func (m *model) settled(entryID string) bool {
	for _, it := range m.items {
		if it.ref.EntryID == entryID && it.settlements > 0 {
			return true
		}
	}
	return false
}

// rateOn is the model's rule: the latest rate on or before date.
func (m *model) rateOn(date string) (money.Decimal, bool) {
	best := ""
	for d := range m.rates {
		if d <= date && d > best {
			best = d
		}
	}
	r, ok := m.rates[best]
	return r, ok && best != ""
}

func (m *model) periodOf(date string) int {
	t, _ := time.Parse(time.DateOnly, date)
	return int(t.Month())
}

func dateGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		day := rapid.IntRange(0, 364).Draw(t, "day")
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format(time.DateOnly)
	})
}

// cents draws an amount from 0.01 to 5,000.00.
func cents(t *rapid.T, label string) money.Decimal {
	return money.New(rapid.Int64Range(1, 500000).Draw(t, label), -2)
}

func inTx(d *db.DB, fn func(tx *db.Tx) (ledger.Entry, error)) (ledger.Entry, error) {
	var e ledger.Entry
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		var err error
		e, err = fn(tx)
		return err
	})
	return e, err
}

func expectCode(t *rapid.T, what string, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("%s: got %q (%v), want %q", what, got, err, code)
	}
}

// This keeps rapid's default number of checks per property modest so
// that `go test ./...` stays quick; -rapid.checks=1000 searches harder.
func init() {
	testMainHooks = append(testMainHooks, func() {
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
		if !explicit && os.Getenv("RAPID_CHECKS") == "" {
			_ = flag.Set("rapid.checks", "20")
		}
	})
}

func TestLedgerProperties(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rapid.Check(t, func(rt *rapid.T) {
			b := newBooks(rt, d)
			m := &model{balances: map[string]money.Decimal{}, snapshots: map[string]ledger.Entry{}, reversed: map[string]bool{},
				rates: map[string]money.Decimal{}, closed: map[int]bool{}}
			post := func(p ledger.Posting) (ledger.Entry, error) {
				p.CompanyID, p.Currency = b.company, "EUR"
				return inTx(d, func(tx *db.Tx) (ledger.Entry, error) { return ledger.Post(ctx, tx, p) })
			}
			// wouldOverdraw predicts the non-negative check on the bank.
			wouldOverdraw := func(lines []ledger.EntryLine) bool {
				after := m.balances[b.bank]
				for _, l := range lines {
					if l.AccountID == b.bank {
						after = after.Add(l.Debit).Sub(l.Credit)
					}
				}
				return after.IsNegative()
			}
			rt.Repeat(map[string]func(*rapid.T){
				"post": func(t *rapid.T) {
					date := dateGen().Draw(t, "date")
					n := rapid.IntRange(1, 3).Draw(t, "lines")
					p := ledger.Posting{Date: date, SourceType: "prop", SourceID: id.New("src"), Purpose: "post"}
					var net money.Decimal
					for i := 0; i < n; i++ {
						acct := rapid.SampledFrom(b.all).Draw(t, "account")
						amt := cents(t, "amount")
						if rapid.Bool().Draw(t, "debit") {
							p.Lines, net = append(p.Lines, ledger.Line{AccountID: acct, Debit: amt}), net.Add(amt)
						} else {
							p.Lines, net = append(p.Lines, ledger.Line{AccountID: acct, Credit: amt}), net.Sub(amt)
						}
					}
					if net.IsZero() {
						t.Skip("lines already balance")
					}
					other := rapid.SampledFrom(b.all).Draw(t, "balancing account")
					if net.IsNegative() {
						p.Lines = append(p.Lines, ledger.Line{AccountID: other, Debit: net.Neg()})
					} else {
						p.Lines = append(p.Lines, ledger.Line{AccountID: other, Credit: net})
					}
					var planned []ledger.EntryLine
					for _, l := range p.Lines {
						planned = append(planned, ledger.EntryLine{AccountID: l.AccountID, Debit: l.Debit, Credit: l.Credit})
					}
					e, err := post(p)
					switch {
					case m.closed[m.periodOf(date)]:
						expectCode(t, "posting into a closed period", err, apperr.Conflict)
					case wouldOverdraw(planned):
						expectCode(t, "overdrawing the bank", err, apperr.Conflict)
					case err != nil:
						t.Fatalf("post: %v", err)
					default:
						m.apply(e)
					}
				},
				"unbalanced": func(t *rapid.T) {
					a, c := cents(t, "debit"), cents(t, "credit")
					if a.Equal(c) {
						t.Skip("balanced")
					}
					_, err := post(ledger.Posting{Date: dateGen().Draw(t, "date"), Lines: []ledger.Line{
						{AccountID: b.bank, Debit: a}, {AccountID: b.revenue, Credit: c}}})
					expectCode(t, "unbalanced posting", err, apperr.Invalid)
				},
				"rate": func(t *rapid.T) {
					date := dateGen().Draw(t, "date")
					if _, ok := m.rates[date]; ok {
						t.Skip("a rate on that day")
					}
					rate := money.New(rapid.Int64Range(500000, 2000000).Draw(t, "rate"), -6)
					_, err := d.ExecContext(ctx, `INSERT INTO exchange_rates (id, company_id, version, created_at, updated_at, doc, currency, rate_date, rate)
VALUES ($1, $2, 1, $3, $3, '{}', 'USD', $4, $5)`, id.New("fxr"), b.company, time.Now(), date, money.Rate(&rate))
					if err != nil {
						t.Fatalf("rate: %v", err)
					}
					m.rates[date] = rate
				},
				"invoiceUSD": func(t *rapid.T) {
					date := dateGen().Draw(t, "date")
					amt := cents(t, "amount")
					e, err := post(ledger.Posting{Date: date, SourceType: "prop", SourceID: id.New("inv"), Purpose: "invoice", Lines: []ledger.Line{
						{AccountID: b.ar, Debit: amt, Currency: "USD"}, {AccountID: b.revenue, Credit: amt, Currency: "USD"}}})
					rate, ok := m.rateOn(date)
					switch {
					case m.closed[m.periodOf(date)]:
						expectCode(t, "invoice into a closed period", err, apperr.Conflict)
					case !ok:
						expectCode(t, "invoice without a rate", err, apperr.Invalid)
					case money.RoundAmount(amt.Mul(rate), "EUR", money.HalfEven).IsZero():
						expectCode(t, "invoice worth nothing in EUR", err, apperr.Invalid)
					case err != nil:
						t.Fatalf("invoice: %v", err)
					default:
						if want := money.RoundAmount(amt.Mul(rate), "EUR", money.HalfEven); !e.Lines[0].Debit.Equal(want) {
							t.Fatalf("invoice of %s USD at %s: %s EUR, want %s", amt, rate, e.Lines[0].Debit, want)
						}
						m.apply(e)
						m.items = append(m.items, &openItem{ref: ledger.LineRef{EntryID: e.ID, LineNo: 1}, txn: amt, base: e.Lines[0].Debit,
							origTxn: amt, origBase: e.Lines[0].Debit})
					}
				},
				"settle": func(t *rapid.T) {
					var open []*openItem
					for _, it := range m.items {
						if it.txn.Sign() > 0 && !m.reversed[it.ref.EntryID] {
							open = append(open, it)
						}
					}
					if len(open) == 0 {
						t.Skip("nothing open")
					}
					it := rapid.SampledFrom(open).Draw(t, "item")
					full := rapid.Bool().Draw(t, "in full")
					amt := it.txn
					if !full {
						amt = money.New(rapid.Int64Range(1, 600000).Draw(t, "part"), -2)
					}
					date := dateGen().Draw(t, "date")
					e, err := post(ledger.Posting{Date: date, SourceType: "prop", SourceID: id.New("pay"), Purpose: "payment", Lines: []ledger.Line{
						{AccountID: b.bank, Debit: amt, Currency: "USD"}, {AccountID: b.ar, Credit: amt, Currency: "USD", Settles: &it.ref}}})
					rate, hasRate := m.rateOn(date)
					switch {
					case m.closed[m.periodOf(date)]:
						expectCode(t, "settlement into a closed period", err, apperr.Conflict)
					case !hasRate: // the bank's line is converted first
						expectCode(t, "settlement without a rate", err, apperr.Invalid)
					case money.RoundAmount(amt.Mul(rate), "EUR", money.HalfEven).IsZero():
						expectCode(t, "payment worth nothing in EUR", err, apperr.Invalid)
					case amt.Cmp(it.txn) > 0:
						expectCode(t, "settling more than is open", err, apperr.Conflict)
					case !amt.Equal(it.txn) && it.base.Cmp(money.MustParse("0.02")) < 0:
						expectCode(t, "dividing a cent", err, apperr.Invalid)
					case err != nil:
						t.Fatalf("settle %s of %s open: %v", amt, it.txn, err)
					default:
						// The carrying value: all that is left when settled in
						// full, else the open part in proportion, half-even,
						// leaving at least a cent on either side.
						want := it.base
						if !amt.Equal(it.txn) {
							r := new(big.Rat).Mul(ratOf(it.base), ratOf(amt))
							r.Quo(r, ratOf(it.txn))
							want = roundRat(r)
							cent := money.MustParse("0.01")
							if want.Cmp(cent) < 0 {
								want = cent
							} else if most := it.base.Sub(cent); want.Cmp(most) > 0 {
								want = most
							}
						}
						if !e.Lines[1].Credit.Equal(want) {
							t.Fatalf("settling %s of %s USD (%s EUR open): carrying value %s, want %s", amt, it.txn, it.base, e.Lines[1].Credit, want)
						}
						m.apply(e)
						it.txn, it.base, it.settledSum = it.txn.Sub(amt), it.base.Sub(want), it.settledSum.Add(want)
						it.settlements++
						if it.txn.IsZero() && !it.settledSum.Equal(it.origBase) {
							t.Fatalf("settled in full, %s EUR taken off a line of %s EUR", it.settledSum, it.origBase)
						}
					}
				},
				"reverse": func(t *rapid.T) {
					if len(m.snapshots) == 0 {
						t.Skip("nothing posted")
					}
					ids := make([]string, 0, len(m.snapshots))
					for id := range m.snapshots {
						ids = append(ids, id)
					}
					sort.Strings(ids)
					orig := m.snapshots[rapid.SampledFrom(ids).Draw(t, "entry")]
					date := dateGen().Draw(t, "date")
					e, err := inTx(d, func(tx *db.Tx) (ledger.Entry, error) { return ledger.Reverse(ctx, tx, orig.ID, date) })
					var mirror []ledger.EntryLine
					for _, l := range orig.Lines {
						mirror = append(mirror, ledger.EntryLine{AccountID: l.AccountID, Debit: l.Credit, Credit: l.Debit})
					}
					switch {
					case m.reversed[orig.ID]:
						expectCode(t, "reversing twice", err, apperr.Conflict)
					case m.settled(orig.ID):
						expectCode(t, "reversing a settled invoice", err, apperr.Conflict)
					case m.closed[m.periodOf(date)]:
						expectCode(t, "reversal into a closed period", err, apperr.Conflict)
					case wouldOverdraw(mirror):
						expectCode(t, "reversal overdrawing the bank", err, apperr.Conflict)
					case err != nil:
						t.Fatalf("reverse %s: %v", orig.ID, err)
					default:
						m.apply(e)
						m.reversed[orig.ID] = true
						for _, it := range m.items {
							if it.ref.EntryID == orig.ID {
								it.txn, it.base = money.Decimal{}, money.Decimal{}
							}
							// Reversing a payment reopens what it settled (and
							// reversing that reversal settles it again).
							for _, l := range orig.Lines {
								if l.Settles != nil && *l.Settles == it.ref {
									it.txn, it.base = it.txn.Sub(l.TxnAmount), it.base.Add(l.Credit).Sub(l.Debit)
									it.settledSum = it.settledSum.Add(l.Debit).Sub(l.Credit)
									it.settlements -= l.TxnAmount.Neg().Sign()
								}
							}
						}
					}
				},
				"togglePeriod": func(t *rapid.T) {
					n := rapid.IntRange(1, 12).Draw(t, "period")
					status := periods.Closed
					if m.closed[n] {
						status = periods.Open
					}
					err := d.Transact(ctx, func(tx *db.Tx) error {
						_, err := periods.SetStatus(ctx, tx, b.company, b.periods[n-1].ID, status)
						return err
					})
					if err != nil {
						t.Fatalf("set period %d %s: %v", n, status, err)
					}
					m.closed[n] = status == periods.Closed
				},
				"": func(t *rapid.T) { checkInvariants(t, d, b, m, false) },
			})
			checkInvariants(rt, d, b, m, true)
		})
	})
}

// checkInvariants compares the books with the model: every entry balances,
// the trial balance equals the sums of what was posted, the bank never went
// below zero, numbers are 1..n, and (when full) nothing posted changed.
func checkInvariants(t *rapid.T, d *db.DB, b books, m *model, full bool) {
	ctx := context.Background()
	var unbalanced int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT l.entry_id FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.company_id = $1 GROUP BY l.entry_id HAVING SUM(l.debit) <> SUM(l.credit)) x`, b.company).Scan(&unbalanced); err != nil {
		t.Fatal(err)
	}
	if unbalanced != 0 {
		t.Fatalf("%d entries do not balance", unbalanced)
	}
	tb, err := ledger.TrialBalance(ctx, d, b.company, "9999-12-31")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]money.Decimal{}
	for _, l := range tb {
		got[l.AccountID] = l.Balance
	}
	for _, a := range b.all {
		if !got[a].Equal(m.balances[a]) {
			t.Fatalf("account %s: trial balance %s, sum of postings %s", a, got[a], m.balances[a])
		}
	}
	if got[b.bank].IsNegative() {
		t.Fatalf("the non-negative bank account is at %s", got[b.bank])
	}
	var n, maxNumber int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(number), 0) FROM journal_entries WHERE company_id = $1 AND status = 'posted'`,
		b.company).Scan(&n, &maxNumber); err != nil {
		t.Fatal(err)
	}
	if n != m.posted || maxNumber != n {
		t.Fatalf("%d entries numbered up to %d; the model posted %d", n, maxNumber, m.posted)
	}
	if !full {
		return
	}
	for id, want := range m.snapshots {
		e, err := ledger.Get(ctx, d, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.reversed[id] != (e.ReversedBy != "") {
			t.Fatalf("entry %s: reversed_by %q, model says reversed %v", id, e.ReversedBy, m.reversed[id])
		}
		e.ReversedBy = ""
		if a, b := mustJSON(t, e), mustJSON(t, want); a != b {
			t.Fatalf("posted entry %s changed:\nnow  %s\nthen %s", id, a, b)
		}
	}
}

func mustJSON(t *rapid.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ratOf(d money.Decimal) *big.Rat {
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		panic(fmt.Sprintf("not a decimal: %s", d))
	}
	return r
}

// roundRat rounds to cents, half to even: the model's own rounding,
// independent of the money package.
func roundRat(r *big.Rat) money.Decimal {
	scaled := new(big.Rat).Mul(r, big.NewRat(100, 1))
	q, rem := new(big.Int).QuoRem(scaled.Num(), scaled.Denom(), new(big.Int))
	twice := new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2))
	switch c := twice.Cmp(scaled.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if scaled.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return money.New(q.Int64(), -2)
}

// TestConcurrentPostersKeepInvariantsPostgres posts random workloads from
// several goroutines at once: spending from the non-negative bank races
// for its balance, numbers race for the counter. Whatever interleaving the
// database chose, the invariants hold.
func TestConcurrentPostersKeepInvariantsPostgres(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		b := newBooks(rt, d)
		m := &model{balances: map[string]money.Decimal{}, snapshots: map[string]ledger.Entry{}}
		workers := rapid.IntRange(2, 4).Draw(rt, "workers")
		plans := make([][]ledger.Posting, workers)
		for w := range plans {
			for i, n := 0, rapid.IntRange(1, 6).Draw(rt, "postings"); i < n; i++ {
				amt := cents(rt, "amount")
				from, to := b.revenue, b.bank
				if rapid.Bool().Draw(rt, "spend") {
					from, to = b.bank, b.expense
				}
				plans[w] = append(plans[w], ledger.Posting{CompanyID: b.company, Currency: "EUR", Date: dateGen().Draw(rt, "date"),
					SourceType: "prop", SourceID: id.New("src"), Purpose: "post",
					Lines: []ledger.Line{{AccountID: to, Debit: amt}, {AccountID: from, Credit: amt}}})
			}
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, plan := range plans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, p := range plan {
					e, err := inTx(d, func(tx *db.Tx) (ledger.Entry, error) { return ledger.Post(ctx, tx, p) })
					mu.Lock()
					if err == nil {
						m.apply(e)
					} else if apperr.CodeOf(err) != apperr.Conflict {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			rt.Fatalf("postings failed: %v", errs)
		}
		checkInvariants(rt, d, b, m, true)
	})
}
