package ledger_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// testMainHooks run after flags are parsed, before the tests.
var testMainHooks []func()

func TestMain(m *testing.M) {
	flag.Parse()
	for _, h := range testMainHooks {
		h()
	}
	dbtest.Main(m)
}

const company = "co_test"

func d(s string) money.Decimal { return money.MustParse(s) }

// sale is a balanced posting: receivables against revenue and tax.
func sale(source string) ledger.Posting {
	return ledger.Posting{
		CompanyID: company, Date: "2026-03-15", Currency: "EUR",
		SourceType: "invoice", SourceID: source, Purpose: "revenue",
		Lines: []ledger.Line{
			{AccountID: "acc_receivables", Debit: d("119.00")},
			{AccountID: "acc_revenue", Credit: d("100.00")},
			{AccountID: "acc_tax", Credit: d("19.00")},
		},
	}
}

func post(t *testing.T, dbh *db.DB, p ledger.Posting) (ledger.Entry, error) {
	t.Helper()
	var e ledger.Entry
	err := dbh.Transact(context.Background(), func(tx *db.Tx) error {
		var err error
		e, err = ledger.Post(context.Background(), tx, p)
		return err
	})
	return e, err
}

func mustPost(t *testing.T, dbh *db.DB, p ledger.Posting) ledger.Entry {
	t.Helper()
	e, err := post(t, dbh, p)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return e
}

func wantCode(t *testing.T, err error, code apperr.Code, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestPostStoresBalancedEntriesWithGaplessNumbers(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		ctx := context.Background()
		for i := 1; i <= 3; i++ {
			e := mustPost(t, dbh, sale(fmt.Sprintf("inv_%d", i)))
			if e.Number != int64(i) || e.Status != ledger.StatusPosted || !strings.HasPrefix(e.ID, "je_") {
				t.Fatalf("entry %d: number %d status %s id %s", i, e.Number, e.Status, e.ID)
			}
			got, err := ledger.Get(ctx, dbh, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Number != int64(i) || got.Date != "2026-03-15" || len(got.Lines) != 3 || got.PostedAt == nil {
				t.Fatalf("stored entry: %+v", got)
			}
			if !got.Lines[0].Debit.Equal(d("119")) || !got.Lines[2].Credit.Equal(d("19")) ||
				!got.Lines[1].TxnAmount.Equal(d("-100")) || got.Lines[1].TxnCurrency != "EUR" {
				t.Fatalf("stored lines: %+v", got.Lines)
			}
		}
		// A failed posting must not burn a number.
		bad := sale("inv_bad")
		bad.Lines = append(bad.Lines, ledger.Line{AccountID: "acc_x", Debit: d("1")})
		if _, err := post(t, dbh, bad); err == nil {
			t.Fatal("unbalanced posting accepted")
		}
		if e := mustPost(t, dbh, sale("inv_4")); e.Number != 4 {
			t.Fatalf("after a rejected posting the number is %d, want 4", e.Number)
		}
		// Numbers are per company.
		other := sale("inv_1")
		other.CompanyID = "co_other"
		if e := mustPost(t, dbh, other); e.Number != 1 {
			t.Fatalf("other company's first number is %d", e.Number)
		}
		var events, audits int
		if err := dbh.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE type = $1`, ledger.EventPosted).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if err := dbh.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'journal_entry.post'`).Scan(&audits); err != nil {
			t.Fatal(err)
		}
		if events != 5 || audits != 5 {
			t.Fatalf("%d events and %d audit rows, want 5 each", events, audits)
		}
	})
}

func TestPostRejectsInvalidPostings(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		cases := []struct {
			name    string
			edit    func(p *ledger.Posting)
			mention []string
		}{
			{"unbalanced", func(p *ledger.Posting) { p.Lines[1].Credit = d("99.99") }, []string{"/lines", "does not balance", "0.01"}},
			{"both sides", func(p *ledger.Posting) { p.Lines[0].Credit = d("1") }, []string{"/lines/0", "exactly one"}},
			{"no side", func(p *ledger.Posting) { p.Lines[2].Credit = money.Decimal{} }, []string{"/lines/2", "exactly one"}},
			{"negative", func(p *ledger.Posting) {
				p.Lines[0] = ledger.Line{AccountID: "acc_receivables", Credit: d("-119")}
			}, []string{"/lines/0", "negative"}},
			{"too precise", func(p *ledger.Posting) {
				p.Lines[1].Credit, p.Lines[2].Credit = d("99.995"), d("19.005")
			}, []string{"/lines/1/credit", "decimal places"}},
			{"one line", func(p *ledger.Posting) { p.Lines = p.Lines[:1] }, []string{"at least two lines"}},
			{"bad date", func(p *ledger.Posting) { p.Date = "2026-02-30" }, []string{"/date"}},
			{"bad currency", func(p *ledger.Posting) { p.Currency = "XXY" }, []string{"/currency"}},
			{"no account", func(p *ledger.Posting) { p.Lines[1].AccountID = "" }, []string{"/lines/1/account_id"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := sale("inv_" + c.name)
				c.edit(&p)
				_, err := post(t, dbh, p)
				wantCode(t, err, apperr.Invalid, c.mention...)
				if apperr.Invalid.Status() != 422 {
					t.Fatal("invalid is not 422")
				}
			})
		}
		var n int
		if err := dbh.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM journal_entries`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d entries stored after invalid postings (err %v)", n, err)
		}
		// JPY has no minor unit: 100.5 yen is too precise, 100 is fine.
		p := sale("inv_jpy")
		p.Currency = "JPY"
		p.Lines = []ledger.Line{{AccountID: "a", Debit: d("100.5")}, {AccountID: "b", Credit: d("100.5")}}
		_, err := post(t, dbh, p)
		wantCode(t, err, apperr.Invalid, "decimal places")
		p.Lines = []ledger.Line{{AccountID: "a", Debit: d("100")}, {AccountID: "b", Credit: d("100")}}
		mustPost(t, dbh, p)
	})
}

func TestPostIsIdempotentPerSource(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		first := mustPost(t, dbh, sale("inv_1"))
		retry := sale("inv_1")
		retry.Memo = "retried" // memos do not make a posting different
		again := mustPost(t, dbh, retry)
		if again.ID != first.ID || again.Number != first.Number {
			t.Fatalf("retry posted %s #%d, want %s #%d", again.ID, again.Number, first.ID, first.Number)
		}
		changed := sale("inv_1")
		changed.Lines[0].Debit, changed.Lines[1].Credit = d("120.00"), d("101.00")
		_, err := post(t, dbh, changed)
		wantCode(t, err, apperr.Conflict, first.ID)
		// Another purpose of the same source is a different posting.
		cogs := sale("inv_1")
		cogs.Purpose = "cogs"
		if e := mustPost(t, dbh, cogs); e.ID == first.ID || e.Number != 2 {
			t.Fatalf("other purpose: %s #%d", e.ID, e.Number)
		}
		var n int
		if err := dbh.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM journal_entries`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d entries, want 2 (err %v)", n, err)
		}
	})
}

func TestPostedEntriesAreImmutableInTheDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		ctx := context.Background()
		e := mustPost(t, dbh, sale("inv_1"))
		refused := []struct{ sql string }{
			{`UPDATE journal_lines SET debit = 1 WHERE entry_id = $1 AND line_no = 1`},
			{`UPDATE journal_lines SET account_id = 'acc_other' WHERE entry_id = $1`},
			{`DELETE FROM journal_lines WHERE entry_id = $1`},
			{`INSERT INTO journal_lines (entry_id, line_no, account_id, debit, credit, txn_currency, txn_amount) VALUES ($1, 9, 'a', 10000, 0, 'EUR', 10000)`},
			{`UPDATE journal_entries SET memo = 'edited' WHERE id = $1`},
			{`UPDATE journal_entries SET entry_date = '2026-01-01' WHERE id = $1`},
			{`UPDATE journal_entries SET status = 'draft', number = NULL, posted_at = NULL WHERE id = $1`},
			{`UPDATE journal_entries SET reversed_by = id, memo = 'sneaky' WHERE id = $1`},
			{`DELETE FROM journal_entries WHERE id = $1`},
		}
		for _, r := range refused {
			_, err := dbh.ExecContext(ctx, r.sql, e.ID)
			if err == nil {
				t.Errorf("%s: allowed on a posted entry", r.sql)
				continue
			}
			if !ledger.IsImmutable(err) {
				t.Errorf("%s: refused with %v, not by the immutability trigger", r.sql, err)
			}
		}
		got, err := ledger.Get(ctx, dbh, e.ID)
		if err != nil || got.Memo != "" || len(got.Lines) != 3 || !got.Lines[0].Debit.Equal(d("119")) {
			t.Fatalf("posted entry changed: %+v (err %v)", got, err)
		}
		// Setting reversed_by once is the one change allowed, and only once.
		other := mustPost(t, dbh, sale("inv_2"))
		if _, err := dbh.ExecContext(ctx, `UPDATE journal_entries SET reversed_by = $1 WHERE id = $2`, other.ID, e.ID); err != nil {
			t.Fatalf("setting reversed_by once: %v", err)
		}
		if _, err := dbh.ExecContext(ctx, `UPDATE journal_entries SET reversed_by = $1 WHERE id = $2`, e.ID, e.ID); !ledger.IsImmutable(err) {
			t.Fatalf("changing reversed_by again: %v", err)
		}

		// A draft is still editable: the triggers guard posted entries only.
		if _, err := dbh.ExecContext(ctx, `INSERT INTO journal_entries
(id, company_id, status, entry_date, currency, created_at) VALUES ('je_draft', $1, 'draft', '2026-03-01', 'EUR', $2)`,
			company, dbh.Now()); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO journal_lines (entry_id, line_no, account_id, debit, credit, txn_currency, txn_amount) VALUES ('je_draft', 1, 'a', 10000, 0, 'EUR', 10000)`,
			`UPDATE journal_lines SET debit = 20000 WHERE entry_id = 'je_draft'`,
			`UPDATE journal_entries SET memo = 'edited' WHERE id = 'je_draft'`,
			`DELETE FROM journal_lines WHERE entry_id = 'je_draft'`,
			`DELETE FROM journal_entries WHERE id = 'je_draft'`,
		} {
			if _, err := dbh.ExecContext(ctx, q); err != nil {
				t.Errorf("%s on a draft: %v", q, err)
			}
		}
		if dbh.Engine() == db.Postgres {
			// TRUNCATE skips row triggers; a statement trigger covers it.
			for _, table := range []string{"journal_lines", "journal_entries CASCADE"} {
				if _, err := dbh.ExecContext(ctx, "TRUNCATE "+table); !ledger.IsImmutable(err) {
					t.Errorf("TRUNCATE %s: %v", table, err)
				}
			}
		}
		// The Go mapping makes the refusal a 409.
		err = dbh.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM journal_entries WHERE id = $1`, e.ID)
			return err
		})
		if !ledger.IsImmutable(err) {
			t.Fatalf("delete in a transaction: %v", err)
		}
		if code := apperr.CodeOf(ledger.MapDBError(err)); code != apperr.Conflict {
			t.Fatalf("the trigger's refusal maps to %s", code)
		}
	})
}

func TestReverse(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		ctx := context.Background()
		orig := mustPost(t, dbh, sale("inv_1"))
		reverse := func(id string) (ledger.Entry, error) {
			var e ledger.Entry
			err := dbh.Transact(ctx, func(tx *db.Tx) error {
				var err error
				e, err = ledger.Reverse(ctx, tx, id, "2026-04-01")
				return err
			})
			return e, err
		}
		rev, err := reverse(orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rev.ReversalOf != orig.ID || rev.Number != 2 || rev.Date != "2026-04-01" || len(rev.Lines) != 3 {
			t.Fatalf("reversal: %+v", rev)
		}
		for i, l := range rev.Lines {
			o := orig.Lines[i]
			if l.AccountID != o.AccountID || !l.Debit.Equal(o.Credit) || !l.Credit.Equal(o.Debit) {
				t.Fatalf("line %d is not the mirror: %+v vs %+v", i, l, o)
			}
		}
		got, err := ledger.Get(ctx, dbh, orig.ID)
		if err != nil || got.ReversedBy != rev.ID {
			t.Fatalf("original not linked: %+v (err %v)", got, err)
		}
		_, err = reverse(orig.ID)
		wantCode(t, err, apperr.Conflict, "already been reversed")
		_, err = reverse("je_missing")
		wantCode(t, err, apperr.NotFound)
		// Both sit in the books: everything nets to zero after the reversal.
		tb, err := ledger.TrialBalance(ctx, dbh, company, "2026-12-31")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range tb {
			if !b.Balance.IsZero() {
				t.Errorf("%s balance %s after reversal", b.AccountID, b.Balance)
			}
		}
		// Before the reversal date the original still counts.
		tb, err = ledger.TrialBalance(ctx, dbh, company, "2026-03-31")
		if err != nil || len(tb) != 3 || !tb[0].Balance.Equal(d("119")) {
			t.Fatalf("trial balance before the reversal: %+v (err %v)", tb, err)
		}
	})
}

func TestTrialBalanceMatchesPostings(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		ctx := context.Background()
		// Ten 0.1 lines sum to exactly 1 (floats would not).
		p := ledger.Posting{CompanyID: company, Date: "2026-01-10", Currency: "EUR", Memo: "tenths"}
		for range 10 {
			p.Lines = append(p.Lines, ledger.Line{AccountID: "acc_cash", Debit: d("0.1")})
		}
		p.Lines = append(p.Lines, ledger.Line{AccountID: "acc_equity", Credit: d("1")})
		mustPost(t, dbh, p)
		mustPost(t, dbh, sale("inv_1"))
		mustPost(t, dbh, sale("inv_2"))
		late := sale("inv_3")
		late.Date = "2026-06-01"
		mustPost(t, dbh, late)
		// Another company's postings never show.
		other := sale("inv_1")
		other.CompanyID = "co_other"
		mustPost(t, dbh, other)

		tb, err := ledger.TrialBalance(ctx, dbh, company, "2026-05-31")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][2]string{
			"acc_cash": {"1", "0"}, "acc_equity": {"0", "1"},
			"acc_receivables": {"238", "0"}, "acc_revenue": {"0", "200"}, "acc_tax": {"0", "38"},
		}
		if len(tb) != len(want) {
			t.Fatalf("trial balance %+v, want %d accounts", tb, len(want))
		}
		var total money.Decimal
		for _, b := range tb {
			w, ok := want[b.AccountID]
			if !ok || !b.Debit.Equal(d(w[0])) || !b.Credit.Equal(d(w[1])) || !b.Balance.Equal(b.Debit.Sub(b.Credit)) {
				t.Errorf("%s: debit %s credit %s balance %s, want %v", b.AccountID, b.Debit, b.Credit, b.Balance, w)
			}
			total = total.Add(b.Balance)
		}
		if !total.IsZero() {
			t.Fatalf("trial balance sums to %s", total)
		}
		tb, err = ledger.TrialBalance(ctx, dbh, company, "2026-12-31")
		if err != nil || len(tb) != 5 || !tb[2].Debit.Equal(d("357")) {
			t.Fatalf("year-end trial balance: %+v (err %v)", tb, err)
		}
		_, err = ledger.TrialBalance(ctx, dbh, company, "2026-13-01")
		wantCode(t, err, apperr.Invalid)
	})
}

// TestConcurrentPostingPostgres runs posters at once through a barrier:
// numbers must come out 1..n without gap or duplicate, and one source
// triple posted by several at once must yield one entry.
func TestConcurrentPostingPostgres(t *testing.T) {
	dbh := dbtest.Open(t, db.Postgres)
	ctx := context.Background()

	run := func(n int, posting func(i int) ledger.Posting) ([]ledger.Entry, []error) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		entries, errs := make([]ledger.Entry, n), make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				entries[i], errs[i] = post(t, dbh, posting(i))
			})
		}
		close(start)
		wg.Wait()
		return entries, errs
	}

	entries, errs := run(20, func(i int) ledger.Posting { return sale(fmt.Sprintf("inv_%d", i)) })
	seen := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("poster %d: %v", i, err)
		}
		seen[entries[i].Number] = true
	}
	for n := int64(1); n <= 20; n++ {
		if !seen[n] {
			t.Fatalf("number %d missing; got %v", n, seen)
		}
	}
	var count, maxNumber int64
	if err := dbh.QueryRowContext(ctx, `SELECT COUNT(DISTINCT number), MAX(number) FROM journal_entries WHERE company_id = $1`, company).Scan(&count, &maxNumber); err != nil {
		t.Fatal(err)
	}
	if count != 20 || maxNumber != 20 {
		t.Fatalf("%d distinct numbers up to %d, want 20 up to 20", count, maxNumber)
	}

	entries, errs = run(5, func(int) ledger.Posting { return sale("inv_same") })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("same-source poster %d: %v", i, err)
		}
		if entries[i].ID != entries[0].ID || entries[i].Number != 21 {
			t.Fatalf("same-source poster %d got %s #%d, poster 0 got %s #%d", i, entries[i].ID, entries[i].Number, entries[0].ID, entries[0].Number)
		}
	}
	if err := dbh.QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_entries WHERE source_id = 'inv_same'`).Scan(&count); err != nil || count != 1 {
		t.Fatalf("%d entries for one source (err %v)", count, err)
	}
	if e := mustPost(t, dbh, sale("inv_next")); e.Number != 22 {
		t.Fatalf("next number %d, want 22 (a losing poster burned a number)", e.Number)
	}

	// Two reversals racing: exactly one wins, the other is a 409.
	orig := mustPost(t, dbh, sale("inv_rev"))
	var wg sync.WaitGroup
	start := make(chan struct{})
	revErrs := make([]error, 4)
	for i := range revErrs {
		wg.Go(func() {
			<-start
			revErrs[i] = dbh.Transact(ctx, func(tx *db.Tx) error {
				_, err := ledger.Reverse(ctx, tx, orig.ID, "2026-04-01")
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range revErrs {
		switch {
		case err == nil:
			wins++
		case apperr.CodeOf(err) != apperr.Conflict:
			t.Fatalf("racing reversal: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing reversals succeeded, want 1", wins)
	}
}

func TestDrafts(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		ctx := context.Background()
		inTx := func(fn func(tx *db.Tx) (ledger.Entry, error)) (ledger.Entry, error) {
			var e ledger.Entry
			err := dbh.Transact(ctx, func(tx *db.Tx) error {
				var err error
				e, err = fn(tx)
				return err
			})
			return e, err
		}
		p := sale("inv_draft")
		p.Lines[1].Credit = d("90.00") // unbalanced: fine for a draft
		draft, err := inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.CreateDraft(ctx, tx, p) })
		if err != nil {
			t.Fatal(err)
		}
		if draft.Status != ledger.StatusDraft || draft.Number != 0 {
			t.Fatalf("draft: %+v", draft)
		}
		// Drafts take no number: the next posting is still number 1.
		if e := mustPost(t, dbh, sale("inv_1")); e.Number != 1 {
			t.Fatalf("first posted number %d with a draft around", e.Number)
		}
		tb, err := ledger.TrialBalance(ctx, dbh, company, "2026-12-31")
		if err != nil || len(tb) != 3 || !tb[1].Credit.Equal(d("100")) {
			t.Fatalf("trial balance counts the draft: %+v (err %v)", tb, err)
		}
		_, err = inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.PostDraft(ctx, tx, draft.ID) })
		wantCode(t, err, apperr.Invalid, "does not balance")
		// A draft's lines can still change, even with raw SQL.
		if _, err := dbh.ExecContext(ctx, `UPDATE journal_lines SET credit = 1000000, txn_amount = -1000000 WHERE entry_id = $1 AND line_no = 2`, draft.ID); err != nil {
			t.Fatalf("editing a draft line: %v", err)
		}
		posted, err := inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.PostDraft(ctx, tx, draft.ID) })
		if err != nil {
			t.Fatal(err)
		}
		if posted.Status != ledger.StatusPosted || posted.Number != 2 || posted.ID != draft.ID {
			t.Fatalf("posted draft: %+v", posted)
		}
		if _, err := dbh.ExecContext(ctx, `UPDATE journal_lines SET credit = 1 WHERE entry_id = $1`, draft.ID); !ledger.IsImmutable(err) {
			t.Fatalf("editing a posted draft's line: %v", err)
		}
		_, err = inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.PostDraft(ctx, tx, draft.ID) })
		wantCode(t, err, apperr.Conflict, "already posted")
		// A draft for a source that was posted meanwhile is refused.
		dup, err := inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.CreateDraft(ctx, tx, sale("inv_1")) })
		if err != nil {
			t.Fatal(err)
		}
		_, err = inTx(func(tx *db.Tx) (ledger.Entry, error) { return ledger.PostDraft(ctx, tx, dup.ID) })
		wantCode(t, err, apperr.Conflict, "inv_1")
		// Retrying the original posting still finds the posted entry.
		if e := mustPost(t, dbh, sale("inv_draft")); e.ID != draft.ID {
			t.Fatalf("retry of the draft's source posted %s, want %s", e.ID, draft.ID)
		}
	})
}
