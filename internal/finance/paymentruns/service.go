package paymentruns

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/partners"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/purchasing/bills"
)

// Service proposes, approves and executes payment runs. It reads the
// company (its bank account, its four-eyes setting) and the suppliers
// (their bank accounts) through their resources, so encrypted members are
// decrypted the one way the engine does it.
type Service struct {
	Companies *resource.Resource[company.Company, *company.Company]
	Suppliers *resource.Resource[partners.Supplier, *partners.Supplier]
	// Keyring seals the stored bank files; nil stores them as they are
	// (deployments without a master key have no encrypted fields at all).
	Keyring *crypto.Keyring
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// Propose selects the bills to pay and stores the proposal.
func (s *Service) Propose(ctx context.Context, tx *db.Tx, companyID string, c Criteria) (PaymentRun, error) {
	var fields []apperr.FieldError
	bad := func(ptr, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if !validDate(c.PaymentDate) {
		bad("/payment_date", "must be a date YYYY-MM-DD")
	}
	if c.DueBefore == "" {
		c.DueBefore = c.PaymentDate
	} else if !validDate(c.DueBefore) {
		bad("/due_before", "must be a date YYYY-MM-DD")
	}
	if c.Currency == "" {
		bad("/currency", "is required: a run pays in one currency")
	} else if !c.Currency.Valid() {
		bad("/currency", "%q is not an ISO 4217 currency", c.Currency)
	}
	if c.MinAmount != nil && c.MinAmount.IsNegative() {
		bad("/min_amount", "must not be negative")
	}
	if c.MaxTotal != nil && c.MaxTotal.Sign() <= 0 {
		bad("/max_total", "must be greater than 0")
	}
	if len(fields) > 0 {
		return PaymentRun{}, apperr.Fields(fields...)
	}
	var candidates []bills.Bill
	for after := ""; ; {
		page, err := bills.List(ctx, tx, companyID, bills.ListFilter{SupplierID: c.SupplierID, Kind: bills.KindBill, Status: bills.Posted, After: after, Limit: 500})
		if err != nil {
			return PaymentRun{}, err
		}
		for _, b := range page {
			if b.PaymentStatus != bills.Paid && b.Currency == c.Currency {
				candidates = append(candidates, b)
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	// Oldest due first, so a max_total pays what is most overdue.
	sort.SliceStable(candidates, func(i, j int) bool {
		if candidates[i].DueDate != candidates[j].DueDate {
			return candidates[i].DueDate < candidates[j].DueDate
		}
		return candidates[i].ID < candidates[j].ID
	})
	now := tx.Now().UTC().Truncate(time.Microsecond)
	p, _ := auth.FromContext(ctx)
	run := PaymentRun{ID: id.New("prun"), CompanyID: companyID, Status: Proposed, Currency: c.Currency, PaymentDate: c.PaymentDate, Criteria: c,
		Items: []PaymentRunItem{}, Skipped: []PaymentRunSkippedBill{}, Payments: []PaymentRunPayment{}, ProposedBy: p.ClientID, CreatedAt: now, UpdatedAt: now}
	skip := func(b bills.Bill, format string, args ...any) {
		run.Skipped = append(run.Skipped, PaymentRunSkippedBill{BillID: b.ID, SupplierID: b.SupplierID, Reason: fmt.Sprintf(format, args...)})
	}
	hundredth := money.New(1, -2)
	for _, b := range candidates {
		due := b.DueDate <= c.DueBefore
		discount := c.TakeDiscounts && b.DiscountDate != "" && b.DiscountDate >= c.PaymentDate && b.DiscountPercent != nil && b.DiscountPercent.Sign() > 0
		if !due && !discount {
			skip(b, "due %s, after %s", b.DueDate, c.DueBefore)
			continue
		}
		open, err := bills.Payable(ctx, tx, companyID, b.ID)
		if apperr.CodeOf(err) == apperr.Conflict {
			skip(b, "%s", apperr.As(err).Message)
			continue
		} else if err != nil {
			return PaymentRun{}, err
		}
		if open.Sign() <= 0 {
			continue
		}
		it := PaymentRunItem{BillID: b.ID, SupplierID: b.SupplierID, SupplierReference: b.SupplierReference, DueDate: b.DueDate,
			OpenAmount: open, Amount: open, DiscountTaken: money.Decimal{}}
		switch {
		case discount && open.Equal(b.GrossTotal):
			// The terms discount the gross of the whole bill; the amount paid
			// is rounded (half-even) and the discount is what that leaves.
			factor := money.FromInt(1).Sub(b.DiscountPercent.Mul(hundredth))
			it.Amount = money.RoundAmount(b.GrossTotal.Mul(factor), c.Currency, money.HalfEven).Normalize()
			it.DiscountTaken = b.GrossTotal.Sub(it.Amount).Normalize()
		case !due:
			skip(b, "partially paid: the early-payment discount applies to the whole bill, and it is not due until %s", b.DueDate)
			continue
		}
		if c.MinAmount != nil && it.Amount.Cmp(*c.MinAmount) < 0 {
			skip(b, "%s to pay is below min_amount %s", it.Amount, c.MinAmount.Normalize())
			continue
		}
		if c.MaxTotal != nil && run.Total.Add(it.Amount).Cmp(*c.MaxTotal) > 0 {
			skip(b, "%s to pay would take the run over max_total %s", it.Amount, c.MaxTotal.Normalize())
			continue
		}
		run.Total = run.Total.Add(it.Amount)
		run.DiscountTotal = run.DiscountTotal.Add(it.DiscountTaken)
		run.Items = append(run.Items, it)
	}
	// Grouped per supplier (one payment each), oldest due first within.
	sort.SliceStable(run.Items, func(i, j int) bool { return run.Items[i].SupplierID < run.Items[j].SupplierID })
	run.Total, run.DiscountTotal, run.ItemCount = run.Total.Normalize(), run.DiscountTotal.Normalize(), len(run.Items)
	if err := insertRun(ctx, tx, &run); err != nil {
		return PaymentRun{}, err
	}
	if err := record(ctx, tx, &run, EventProposed); err != nil {
		return PaymentRun{}, err
	}
	return run, audit.Record(ctx, tx, audit.Entry{Action: "payment_run.propose", ResourceType: "payment_run", ResourceID: run.ID, CompanyID: companyID,
		Details: map[string]any{"items": run.ItemCount, "skipped": len(run.Skipped), "total": run.Total.String(), "currency": string(run.Currency)}})
}

// Approve releases a proposed run for execution. An approved or executed
// run is returned as it is, so a retried approval is harmless.
func (s *Service) Approve(ctx context.Context, tx *db.Tx, companyID, runID string) (PaymentRun, error) {
	run, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PaymentRun{}, err
	}
	switch run.Status {
	case Approved, Executed:
		return run, nil
	case Cancelled:
		return PaymentRun{}, apperr.New(apperr.Conflict, "Payment run %s is cancelled.", run.ID).WithFields(apperr.FieldError{Pointer: "/status", Detail: run.Status})
	}
	co, err := s.Companies.Get(ctx, companyID)
	if err != nil {
		return PaymentRun{}, err
	}
	p, _ := auth.FromContext(ctx)
	if co.Value.PaymentRunsNeedSecondApprover && p.ClientID == run.ProposedBy {
		return PaymentRun{}, apperr.New(apperr.Conflict, "The company requires a second approver for payment runs: client %s proposed run %s, so another client must approve it.", p.ClientID, run.ID).
			WithFields(apperr.FieldError{Pointer: "/approved_by", Detail: "must differ from proposed_by"})
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	run.Status, run.ApprovedBy, run.ApprovedAt, run.UpdatedAt = Approved, p.ClientID, &now, now
	if err := saveRun(ctx, tx, &run, "", ""); err != nil {
		return PaymentRun{}, err
	}
	if err := record(ctx, tx, &run, EventApproved); err != nil {
		return PaymentRun{}, err
	}
	return run, audit.Record(ctx, tx, audit.Entry{Action: "payment_run.approve", ResourceType: "payment_run", ResourceID: run.ID, CompanyID: companyID,
		Details: map[string]any{"proposed_by": run.ProposedBy, "approved_by": run.ApprovedBy, "total": run.Total.String(), "four_eyes": co.Value.PaymentRunsNeedSecondApprover}})
}

// Cancel withdraws a run that has not been executed: its bills are free
// for another run. Cancelling twice returns the run; an executed run is
// 409 (its payments are posted: reverse them instead).
func (s *Service) Cancel(ctx context.Context, tx *db.Tx, companyID, runID string) (PaymentRun, error) {
	run, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PaymentRun{}, err
	}
	switch run.Status {
	case Cancelled:
		return run, nil
	case Executed:
		return PaymentRun{}, apperr.New(apperr.Conflict, "Payment run %s is executed; its payments are posted.", run.ID).WithFields(apperr.FieldError{Pointer: "/status", Detail: run.Status})
	}
	p, _ := auth.FromContext(ctx)
	run.Status, run.UpdatedAt = Cancelled, tx.Now().UTC().Truncate(time.Microsecond)
	if err := saveRun(ctx, tx, &run, "", ""); err != nil {
		return PaymentRun{}, err
	}
	if err := record(ctx, tx, &run, EventCancelled); err != nil {
		return PaymentRun{}, err
	}
	return run, audit.Record(ctx, tx, audit.Entry{Action: "payment_run.cancel", ResourceType: "payment_run", ResourceID: run.ID, CompanyID: companyID,
		Details: map[string]any{"cancelled_by": p.ClientID}})
}

// withBankAccounts lets the run read the suppliers' bank accounts: paying
// needs them even when the executing client may not see them, and they
// leave the server only in the bank files, which need partners:sensitive.
func withBankAccounts(ctx context.Context) context.Context {
	p, _ := auth.FromContext(ctx)
	if p.Has(auth.PartnersSensitive) {
		return ctx
	}
	p.Scopes = append(slices.Clone(p.Scopes), auth.PartnersSensitive)
	return auth.WithPrincipal(ctx, p)
}

// Execute pays an approved run: one outgoing payment per supplier settling
// its bills (and the discounts taken), then the bank files, all in tx. An
// executed run is returned as it is. opID names the operation executing a
// large run.
func (s *Service) Execute(ctx context.Context, tx *db.Tx, companyID, runID, opID string) (PaymentRun, error) {
	run, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PaymentRun{}, err
	}
	switch {
	case run.Status == Executed:
		return run, nil
	case run.Status != Approved:
		return PaymentRun{}, apperr.New(apperr.Conflict, "Payment run %s is %s; only approved runs are executed (POST /v1/payment-runs/%s/approve).", run.ID, run.Status, run.ID).
			WithFields(apperr.FieldError{Pointer: "/status", Detail: run.Status})
	case len(run.Items) == 0:
		return PaymentRun{}, apperr.New(apperr.Conflict, "Payment run %s has no bills to pay.", run.ID).WithFields(apperr.FieldError{Pointer: "/items", Detail: "empty"})
	}
	co, err := s.Companies.Get(ctx, companyID)
	if err != nil {
		return PaymentRun{}, err
	}
	if co.Value.BankAccount == nil || co.Value.BankAccount.IBAN == "" {
		return PaymentRun{}, apperr.New(apperr.Conflict, "Company %s has no bank_account to pay from; set it (PATCH /v1/companies/%s).", companyID, companyID).
			WithFields(apperr.FieldError{Pointer: "/bank_account", Detail: "the company has no IBAN"})
	}
	debtor := party{Name: co.Value.LegalName, IBAN: co.Value.BankAccount.IBAN, BIC: co.Value.BankAccount.BIC}
	// Every supplier's account first, so a missing IBAN refuses the whole
	// run before anything is paid.
	creditors := map[string]party{}
	var groups []string
	var missing []apperr.FieldError
	sctx := withBankAccounts(ctx)
	for i, it := range run.Items {
		if _, ok := creditors[it.SupplierID]; ok {
			continue
		}
		sup, err := s.Suppliers.Get(sctx, it.SupplierID)
		if err != nil {
			return PaymentRun{}, err
		}
		c := party{Name: sup.Value.Name}
		for _, a := range sup.Value.BankAccounts {
			if a.IBAN != "" {
				c.IBAN, c.BIC = a.IBAN, a.BIC
				if a.Holder != "" {
					c.Name = a.Holder
				}
				break
			}
		}
		if c.IBAN == "" {
			missing = append(missing, apperr.FieldError{Pointer: fmt.Sprintf("/items/%d/supplier_id", i),
				Detail: fmt.Sprintf("supplier %s (%s) has no bank account with an IBAN", it.SupplierID, sup.Value.Name)})
		}
		creditors[it.SupplierID] = c
		groups = append(groups, it.SupplierID)
	}
	if len(missing) > 0 {
		return PaymentRun{}, apperr.Fields(missing...)
	}
	discountAccount := run.Criteria.DiscountAccountID
	if discountAccount == "" && run.DiscountTotal.Sign() > 0 {
		if discountAccount, err = rules.Determine(ctx, tx, companyID, "revenue", rules.Keys{}); err != nil {
			return PaymentRun{}, err
		}
	}
	run.Payments = []PaymentRunPayment{}
	for _, supplierID := range groups {
		in := bills.PayInput{SupplierID: supplierID, Currency: run.Currency, Date: run.PaymentDate, Reference: "Payment run " + run.ID,
			Discounts: map[string]money.Decimal{}, DiscountAccountID: discountAccount}
		pay := PaymentRunPayment{SupplierID: supplierID, BillIDs: []string{}}
		for _, it := range run.Items {
			if it.SupplierID != supplierID {
				continue
			}
			in.Amount = in.Amount.Add(it.Amount)
			in.Allocations = append(in.Allocations, bills.BillAllocationInput{BillID: it.BillID, Amount: it.Amount})
			if it.DiscountTaken.Sign() > 0 {
				in.Discounts[it.BillID] = it.DiscountTaken
			}
			pay.BillIDs = append(pay.BillIDs, it.BillID)
		}
		if pay.PaymentID, err = bills.PayBills(ctx, tx, companyID, in); err != nil {
			return PaymentRun{}, fmt.Errorf("payment run %s, supplier %s: %w", run.ID, supplierID, err)
		}
		pay.Amount = in.Amount.Normalize()
		run.Payments = append(run.Payments, pay)
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	run.Status, run.ExecutedAt, run.UpdatedAt, run.OperationID = Executed, &now, now, opID
	pain, csv, err := s.files(ctx, tx, &run, debtor, creditors)
	if err != nil {
		return PaymentRun{}, err
	}
	if err := saveRun(ctx, tx, &run, pain, csv); err != nil {
		return PaymentRun{}, err
	}
	if err := record(ctx, tx, &run, EventExecuted); err != nil {
		return PaymentRun{}, err
	}
	return run, audit.Record(ctx, tx, audit.Entry{Action: "payment_run.execute", ResourceType: "payment_run", ResourceID: run.ID, CompanyID: companyID,
		Details: map[string]any{"payments": len(run.Payments), "total": run.Total.String(), "currency": string(run.Currency), "operation_id": opID}})
}

// files renders and seals the bank files. pain.001 is SEPA, so EUR only;
// a run in another currency gets the CSV alone.
func (s *Service) files(ctx context.Context, tx *db.Tx, run *PaymentRun, debtor party, creditors map[string]party) (pain, csv string, err error) {
	c, err := buildCSV(run, creditors)
	if err != nil {
		return "", "", err
	}
	if csv, err = s.seal(ctx, tx, run.ID, "csv", string(c)); err != nil {
		return "", "", err
	}
	if run.Currency != "EUR" {
		return "", csv, nil
	}
	x, err := buildPain001(run, debtor, creditors)
	if err != nil {
		return "", "", err
	}
	pain, err = s.seal(ctx, tx, run.ID, "pain001", string(x))
	return pain, csv, err
}

func (s *Service) seal(ctx context.Context, tx *db.Tx, runID, field, text string) (string, error) {
	if s.Keyring == nil {
		return text, nil
	}
	v, err := s.Keyring.Encrypt(db.ContextWithTx(ctx, tx), runID, runID, field, text)
	if err != nil {
		return "", fmt.Errorf("seal %s of payment run %s: %w", field, runID, err)
	}
	return v, nil
}

func (s *Service) open(ctx context.Context, runID, field, stored string) (string, error) {
	if s.Keyring == nil || !crypto.IsEncrypted(stored) {
		return stored, nil
	}
	v, err := s.Keyring.Decrypt(ctx, runID, field, stored)
	if err != nil {
		return "", fmt.Errorf("open %s of payment run %s: %w", field, runID, err)
	}
	return v, nil
}

// record writes a run's event with the run as GET reads it back.
func record(ctx context.Context, tx *db.Tx, run *PaymentRun, event string) error {
	stored, err := loadRun(ctx, tx, run.CompanyID, run.ID, false)
	if err != nil {
		return err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: run.ID, CompanyID: run.CompanyID, Data: stored}); err != nil {
		return fmt.Errorf("payment run %s: %w", run.ID, err)
	}
	return nil
}
