package payments

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// PaymentRequest records an incoming payment.
type PaymentRequest struct {
	CompanyID     string                   `json:"company_id,omitempty"`
	CustomerID    string                   `json:"customer_id" minLength:"1"`
	ExternalID    string                   `json:"external_id,omitempty" maxLength:"100" doc:"Your id of the payment (bank transaction id); unique per company: a retry with the same content returns the payment, other content is 409."`
	Amount        money.Decimal            `json:"amount"`
	Currency      money.Currency           `json:"currency,omitempty" doc:"Default: the customer's currency."`
	Date          string                   `json:"date,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone."`
	BankAccountID string                   `json:"bank_account_id,omitempty" doc:"Default: the account the posting rules give role bank."`
	Reference     string                   `json:"reference,omitempty" maxLength:"200"`
	Rate          *money.Decimal           `json:"rate,omitempty" doc:"The bank's actual rate for a foreign-currency payment (company-currency units per unit); default the day's rate."`
	Allocations   []PaymentAllocationInput `json:"allocations,omitempty" maxItems:"500" doc:"Invoices this pays; what is left is unapplied credit."`
}

// PaymentApplyRequest applies unapplied credit.
type PaymentApplyRequest struct {
	Date        string                   `json:"date,omitempty" doc:"YYYY-MM-DD; default today."`
	Allocations []PaymentAllocationInput `json:"allocations" minItems:"1" maxItems:"500"`
}

// PaymentRefundRequest pays unapplied credit back.
type PaymentRefundRequest struct {
	Amount money.Decimal  `json:"amount"`
	Date   string         `json:"date,omitempty" doc:"YYYY-MM-DD; default today."`
	Rate   *money.Decimal `json:"rate,omitempty" doc:"The bank's rate for a foreign-currency refund; default the day's rate."`
}

// PaymentList is a page of payments.
type PaymentList struct {
	Data          []Payment `json:"data"`
	NextPageToken string    `json:"next_page_token"`
}

// Mount adds /v1/payments. Recording, applying and refunding are
// finance's (ledger:write); reading is open to sales too (sales:read,
// which finance also holds).
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("sales", auth.Read), auth.Scope("ledger", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	transact := func(r *http.Request, fn func(ctx context.Context, tx *db.Tx) error) error {
		return d.Transact(r.Context(), func(tx *db.Tx) error { return fn(r.Context(), tx) })
	}
	api.Handle(rest.Operation{
		ID: "createPayment", Method: http.MethodPost, Path: "/v1/payments", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary: "Record an incoming payment",
		Description: "Posts one ledger entry: the bank debited; for each allocation the invoice's receivable line settled (at its carrying value; " +
			"a foreign-currency difference is posted as a realized exchange gain or loss); the rest credited as unapplied credit. " +
			"Allocations must be finalized invoices of the customer in the payment currency (422 at /allocations/N/invoice_id) and at most what is " +
			"open (409 at /allocations/N/amount); their sum at most the amount (422 at /allocations). Idempotency-Key is recommended; " +
			"external_id deduplicates too (200 with the existing payment, 409 when its content differs).",
		Request: reflect.TypeOf(PaymentRequest{}), Response: reflect.TypeOf(Payment{}), Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in PaymentRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var (
			out     Payment
			created bool
		)
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, created, err = Create(ctx, tx, CreateInput{CompanyID: company, CustomerID: in.CustomerID, ExternalID: in.ExternalID, Amount: in.Amount,
				Currency: in.Currency, Date: in.Date, BankAccountID: in.BankAccountID, Reference: in.Reference, Rate: in.Rate, Allocations: in.Allocations})
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/payments/"+out.ID)
		if !created {
			return rest.Respond(w, r, http.StatusOK, out)
		}
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listPayments", Method: http.MethodGet, Path: "/v1/payments", Tag: "Payments", Scope: read, XML: true,
		Summary: "List payments", Description: "Oldest first; filter customer_id.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "customer_id", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(PaymentList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out PaymentList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"payments", company, q.Get("customer_id")},
			func(p Payment) string { return p.ID }, func(after string, limit int) ([]Payment, error) {
				return List(r.Context(), d.Reader(r.Context()), company, ListFilter{CustomerID: q.Get("customer_id"), After: after, Limit: limit})
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getPayment", Method: http.MethodGet, Path: "/v1/payments/{id}", Tag: "Payments", Scope: read, XML: true,
		Summary: "Get a payment", Description: "With its allocations, refunds and unapplied credit.",
		Params: idParam, Response: reflect.TypeOf(Payment{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		p, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, p)
	})
	api.Handle(rest.Operation{
		ID: "applyPayment", Method: http.MethodPost, Path: "/v1/payments/{id}/apply", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary: "Apply a payment's unapplied credit to invoices",
		Description: "One entry settling the payment's unapplied line and each invoice's receivable line; a foreign-currency difference between " +
			"their carrying values is a realized exchange gain or loss. More than the unapplied credit is 409 at /allocations.",
		Params: idParam, Request: reflect.TypeOf(PaymentApplyRequest{}), Response: reflect.TypeOf(Payment{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in PaymentApplyRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out Payment
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, err = Apply(ctx, tx, company, r.PathValue("id"), ApplyInput(in))
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "refundPayment", Method: http.MethodPost, Path: "/v1/payments/{id}/refund", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary:     "Refund a payment's unapplied credit",
		Description: "One entry settling the payment's unapplied line against the bank. More than the unapplied credit is 409 at /amount.",
		Params:      idParam, Request: reflect.TypeOf(PaymentRefundRequest{}), Response: reflect.TypeOf(Payment{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in PaymentRefundRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out Payment
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, err = Refund(ctx, tx, company, r.PathValue("id"), RefundInput(in))
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
}
