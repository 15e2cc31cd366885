package bills

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// BillRequest enters a supplier bill or credit note.
type BillRequest struct {
	CompanyID         string          `json:"company_id,omitempty"`
	Kind              string          `json:"kind,omitempty" enum:"bill,credit_note" doc:"Default bill."`
	SupplierID        string          `json:"supplier_id" minLength:"1"`
	SupplierReference string          `json:"supplier_reference" minLength:"1" maxLength:"100" doc:"The supplier's number of the document; unique per supplier and kind (409)."`
	BillDate          string          `json:"bill_date,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone."`
	Currency          money.Currency  `json:"currency,omitempty" doc:"Default: the order's, else the supplier's, else the company's."`
	PurchaseOrderID   string          `json:"purchase_order_id,omitempty" doc:"The order billed; its lines are matched against it and its goods receipts."`
	CreditOf          string          `json:"credit_of,omitempty" doc:"A credit note: the bill it credits."`
	Lines             []BillLineInput `json:"lines" minItems:"1" maxItems:"500"`
	TaxTotal          *money.Decimal  `json:"tax_total,omitempty" doc:"The tax total printed on the supplier's document; a difference to the computed input tax is a mismatch."`
	Post              bool            `json:"post,omitempty" doc:"Number and post it now; otherwise it stays a draft."`
}

// BillList is a page of bills and supplier credit notes.
type BillList struct {
	Data          []Bill `json:"data"`
	NextPageToken string `json:"next_page_token"`
}

// SupplierPaymentRequest pays bills of a supplier.
type SupplierPaymentRequest struct {
	CompanyID     string                `json:"company_id,omitempty"`
	SupplierID    string                `json:"supplier_id" minLength:"1"`
	Amount        money.Decimal         `json:"amount"`
	Currency      money.Currency        `json:"currency,omitempty" doc:"Default: the supplier's currency, else the company's."`
	Date          string                `json:"date,omitempty" doc:"YYYY-MM-DD; default today."`
	BankAccountID string                `json:"bank_account_id,omitempty" doc:"Default: the account the posting rules give role bank."`
	Reference     string                `json:"reference,omitempty" maxLength:"200"`
	Allocations   []BillAllocationInput `json:"allocations,omitempty" maxItems:"500" doc:"Bills this pays; the rest is an advance to the supplier."`
}

// Mount adds /v1/bills and /v1/supplier-payments. Entering and posting
// bills is purchasing's; approving a mismatch and paying are finance's
// (ledger:write).
func Mount(api *rest.API, d *db.DB) {
	read, write, finance := auth.Scope("purchasing", auth.Read), auth.Scope("purchasing", auth.Write), auth.Scope("ledger", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	action := func(fn func(ctx context.Context, tx *db.Tx, company, id string) (Bill, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
			if err != nil {
				return err
			}
			var out Bill
			err = d.Transact(r.Context(), func(tx *db.Tx) error {
				out, err = fn(r.Context(), tx, company, r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "createBill", Method: http.MethodPost, Path: "/v1/bills", Tag: "Purchasing", Scope: write, XML: true, Idempotent: true,
		Summary: "Enter a supplier bill or credit note",
		Description: "Lines bill purchase order lines (purchase_order_line_no) or services (account_id, description). Input tax per line at the " +
			"company country's rate for the line's (or product's) tax category; due and discount dates from the supplier's payment terms. Order " +
			"lines are matched three ways: quantity at most received less already billed, unit price within the company's " +
			"bill_price_tolerance_percent of the order's; a line outside (or a printed tax_total that differs) makes the bill a mismatch, which " +
			"cannot be paid until finance approves it. With post the bill is numbered and posted: payables credited, GR/IR cleared at the " +
			"receipts' value, the price difference to cost of goods sold, services to their account, input tax to tax receivable. A credit note " +
			"(kind credit_note, credit_of) posts the mirror, settling the bill's payable when it has that much open. A supplier_reference the " +
			"supplier already used is 409.",
		Request: reflect.TypeOf(BillRequest{}), Response: reflect.TypeOf(Bill{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, rest.Write(api, d, http.StatusCreated, func(in *BillRequest) string { return in.CompanyID }, func(b Bill) string { return "/v1/bills/" + b.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *BillRequest) (Bill, error) {
			return Create(ctx, tx, CreateInput{CompanyID: company, Kind: in.Kind, SupplierID: in.SupplierID, SupplierReference: in.SupplierReference,
				BillDate: in.BillDate, Currency: in.Currency, PurchaseOrderID: in.PurchaseOrderID, CreditOf: in.CreditOf, Lines: in.Lines,
				TaxTotal: in.TaxTotal, Post: in.Post})
		}))
	api.Handle(rest.Operation{
		ID: "listBills", Method: http.MethodGet, Path: "/v1/bills", Tag: "Purchasing", Scope: read, XML: true,
		Summary: "List supplier bills and credit notes",
		Description: "Oldest first; filters supplier_id, purchase_order_id, kind, status, match_status (mismatch: waiting for approval), " +
			"payment_status.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "supplier_id", In: "query"}, {Name: "purchase_order_id", In: "query"},
			{Name: "kind", In: "query"}, {Name: "status", In: "query"}, {Name: "match_status", In: "query"}, {Name: "payment_status", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(BillList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		f := ListFilter{SupplierID: q.Get("supplier_id"), PurchaseOrderID: q.Get("purchase_order_id"), Kind: q.Get("kind"), Status: q.Get("status"),
			MatchStatus: q.Get("match_status"), PaymentStatus: q.Get("payment_status")}
		var out BillList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"bills", company, f.SupplierID, f.PurchaseOrderID, f.Kind, f.Status, f.MatchStatus, f.PaymentStatus},
			func(b Bill) string { return b.ID }, func(after string, limit int) ([]Bill, error) {
				f.After, f.Limit = after, limit
				return List(r.Context(), d.Reader(r.Context()), company, f)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getBill", Method: http.MethodGet, Path: "/v1/bills/{id}", Tag: "Purchasing", Scope: read, XML: true,
		Summary: "Get a supplier bill or credit note", Description: "With the match result per line and the open amount from the ledger.",
		Params: idParam, Response: reflect.TypeOf(Bill{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		b, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, b)
	})
	api.Handle(rest.Operation{
		ID: "postBill", Method: http.MethodPost, Path: "/v1/bills/{id}/post", Tag: "Purchasing", Scope: write, XML: true, Idempotent: true,
		Summary:     "Post a draft bill",
		Description: "Matches it again (receipts and bills may have changed), takes the next gapless bill number and posts it. A posted bill is returned unchanged.",
		Params:      idParam, Response: reflect.TypeOf(Bill{}), Errors: []int{404, 409},
	}, action(Post))
	api.Handle(rest.Operation{
		ID: "approveBill", Method: http.MethodPost, Path: "/v1/bills/{id}/approve", Tag: "Purchasing", Scope: finance, XML: true, Idempotent: true,
		Summary:     "Approve a mismatched bill for payment",
		Description: "Finance accepts the differences of a bill that did not match its order and receipts; audited with the approving client. Only mismatched bills (409 otherwise).",
		Params:      idParam, Response: reflect.TypeOf(Bill{}), Errors: []int{404, 409},
	}, action(Approve))
	api.Handle(rest.Operation{
		ID: "createSupplierPayment", Method: http.MethodPost, Path: "/v1/supplier-payments", Tag: "Payments", Scope: finance, XML: true, Idempotent: true,
		Summary: "Pay supplier bills",
		Description: "One ledger entry: each allocated bill's payable settled, the rest an advance on payables, the bank credited. Stored with the " +
			"payments (direction outgoing; customer_id there holds the supplier). A mismatched bill not yet approved, a draft or a credit note is " +
			"409 at /allocations/N/bill_id; more than the bill has open is 409 at /allocations/N/amount.",
		Request: reflect.TypeOf(SupplierPaymentRequest{}), Response: reflect.TypeOf(SupplierPayment{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *SupplierPaymentRequest) string { return in.CompanyID },
		func(p SupplierPayment) string { return "/v1/supplier-payments/" + p.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *SupplierPaymentRequest) (SupplierPayment, error) {
			return Pay(ctx, tx, company, PayInput{SupplierID: in.SupplierID, Amount: in.Amount, Currency: in.Currency, Date: in.Date,
				BankAccountID: in.BankAccountID, Reference: in.Reference, Allocations: in.Allocations})
		}))
	api.Handle(rest.Operation{
		ID: "getSupplierPayment", Method: http.MethodGet, Path: "/v1/supplier-payments/{id}", Tag: "Payments", Scope: read, XML: true,
		Summary: "Get a supplier payment", Description: "With the bills it paid.",
		Params: idParam, Response: reflect.TypeOf(SupplierPayment{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		p, err := GetPayment(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, p)
	})
}
