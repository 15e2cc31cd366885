package invoicing

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// InvoiceRequest invoices an order.
type InvoiceRequest struct {
	CompanyID    string `json:"company_id,omitempty"`
	SalesOrderID string `json:"sales_order_id"`
	Finalize     bool   `json:"finalize,omitempty" doc:"Number and post it now; otherwise it stays a draft (no number taken)."`
}

// InvoiceList is a page of invoices and credit notes.
type InvoiceList struct {
	Data          []Invoice `json:"data"`
	NextPageToken string    `json:"next_page_token"`
}

// CustomerReturnRequest takes goods back.
type CustomerReturnRequest struct {
	CompanyID    string       `json:"company_id,omitempty"`
	SalesOrderID string       `json:"sales_order_id"`
	Date         string       `json:"date,omitempty" doc:"YYYY-MM-DD; default today."`
	LocationID   string       `json:"location_id,omitempty" doc:"Where the goods go; default the order warehouse's receiving location."`
	Reason       string       `json:"reason,omitempty" maxLength:"500"`
	Lines        []ReturnLine `json:"lines" minItems:"1" maxItems:"500"`
}

// Mount adds invoices, credit notes and returns.
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("sales", auth.Read), auth.Scope("sales", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	transact := func(r *http.Request, fn func(ctx context.Context, tx *db.Tx) error) error {
		return d.Transact(r.Context(), func(tx *db.Tx) error { return fn(r.Context(), tx) })
	}
	api.Handle(rest.Operation{
		ID: "createInvoice", Method: http.MethodPost, Path: "/v1/invoices", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary: "Invoice a sales order",
		Description: "Bills what of a confirmed order shipped and is not yet invoiced (everything not yet invoiced when the company invoices on " +
			"confirmation), pro rata per line, with the shipping charge on the order's first invoice. 409 when nothing is left to invoice. " +
			"With finalize the invoice is numbered and posted at once.",
		Request: reflect.TypeOf(InvoiceRequest{}), Response: reflect.TypeOf(Invoice{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in InvoiceRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var out Invoice
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, err = CreateForOrder(ctx, tx, company, in.SalesOrderID, in.Finalize)
			return err
		})
		if err != nil {
			return err
		}
		if out, err = Get(r.Context(), d.Reader(r.Context()), company, out.ID); err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/invoices/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listInvoices", Method: http.MethodGet, Path: "/v1/invoices", Tag: "Sales", Scope: read, XML: true,
		Summary: "List invoices and credit notes", Description: "Oldest first; filters customer_id, sales_order_id, status, payment_status.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "customer_id", In: "query"}, {Name: "sales_order_id", In: "query"},
			{Name: "status", In: "query"}, {Name: "payment_status", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(InvoiceList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		f := ListFilter{CustomerID: q.Get("customer_id"), SalesOrderID: q.Get("sales_order_id"), Status: q.Get("status"),
			PaymentStatus: q.Get("payment_status")}
		var out InvoiceList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"invoices", company, f.CustomerID, f.SalesOrderID, f.Status, f.PaymentStatus},
			func(i Invoice) string { return i.ID }, func(after string, limit int) ([]Invoice, error) {
				f.After, f.Limit = after, limit
				return List(r.Context(), d.Reader(r.Context()), company, f)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getInvoice", Method: http.MethodGet, Path: "/v1/invoices/{id}", Tag: "Sales", Scope: read, XML: true,
		Summary:     "Get an invoice or credit note",
		Description: "The legal document: seller, buyer, number, dates, lines, tax summary per rate, totals, payment terms, and the open amount from the ledger.",
		Params:      idParam, Response: reflect.TypeOf(Invoice{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		inv, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, inv)
	})
	api.Handle(rest.Operation{
		ID: "finalizeInvoice", Method: http.MethodPost, Path: "/v1/invoices/{id}/finalize", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary:     "Finalize a draft invoice",
		Description: "Takes the next number of the company's series (gapless), sets the due date from the customer's payment terms and posts receivables, revenue and tax. A finalized invoice is returned unchanged.",
		Params:      idParam, Response: reflect.TypeOf(Invoice{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			_, err := Finalize(ctx, tx, company, r.PathValue("id"))
			return err
		})
		if err != nil {
			return err
		}
		inv, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, inv)
	})
	api.Handle(rest.Operation{
		ID: "createCustomerReturn", Method: http.MethodPost, Path: "/v1/returns", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary: "Take goods back from a customer",
		Description: "Puts each line's goods back in stock at the unit cost they shipped with (against cost of goods sold) and credits what of them " +
			"was invoiced with a finalized credit note (series CN). Returning more than shipped less returned before is 409.",
		Request: reflect.TypeOf(CustomerReturnRequest{}), Response: reflect.TypeOf(CustomerReturn{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in CustomerReturnRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var out CustomerReturn
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, err = CreateReturn(ctx, tx, ReturnInput{CompanyID: company, OrderID: in.SalesOrderID, Date: in.Date, LocationID: in.LocationID,
				Reason: in.Reason, Lines: in.Lines})
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/returns/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "getCustomerReturn", Method: http.MethodGet, Path: "/v1/returns/{id}", Tag: "Sales", Scope: read, XML: true,
		Summary: "Get a customer return", Params: idParam, Response: reflect.TypeOf(CustomerReturn{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		ret, err := GetReturn(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, ret)
	})
}
