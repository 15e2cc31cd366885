package app

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/catalog"
	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/finance/collections"
	"github.com/mainstay-erp/mainstay/internal/finance/paymentruns"
	"github.com/mainstay-erp/mainstay/internal/finance/payments"
	"github.com/mainstay-erp/mainstay/internal/finance/taxreport"
	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/counts"
	"github.com/mainstay-erp/mainstay/internal/inventory/inventoryapi"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/ledger/fx"
	"github.com/mainstay-erp/mainstay/internal/ledger/ledgerapi"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/partners"
	"github.com/mainstay-erp/mainstay/internal/platform/apidocs"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/audit/auditapi"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/authapi"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/idempotency"
	"github.com/mainstay-erp/mainstay/internal/platform/operations"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
	"github.com/mainstay-erp/mainstay/internal/privacy"
	"github.com/mainstay-erp/mainstay/internal/purchasing/bills"
	purchaseorders "github.com/mainstay-erp/mainstay/internal/purchasing/orders"
	"github.com/mainstay-erp/mainstay/internal/purchasing/supplierprices"
	"github.com/mainstay-erp/mainstay/internal/sales/availability"
	"github.com/mainstay-erp/mainstay/internal/sales/invoicing"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
	"github.com/mainstay-erp/mainstay/internal/sales/pricing"
	"github.com/mainstay-erp/mainstay/internal/sales/shipping"
)

// Services are the business modules, for code that calls them directly
// (the demo seed, tests).
type Services struct {
	Companies     *resource.Resource[company.Company, *company.Company]
	Units         *resource.Resource[catalog.UnitOfMeasure, *catalog.UnitOfMeasure]
	TaxCategories *resource.Resource[catalog.TaxCategory, *catalog.TaxCategory]
	Products      *resource.Resource[catalog.Product, *catalog.Product]
	PaymentTerms  *resource.Resource[partners.PaymentTerms, *partners.PaymentTerms]
	Customers     *resource.Resource[partners.Customer, *partners.Customer]
	Suppliers     *resource.Resource[partners.Supplier, *partners.Supplier]
	Accounts      *chart.Accounts
	ExchangeRates *fx.Rates
	PostingRules  *rules.Rules
	Warehouses    *sites.Warehouses
	Locations     *sites.Locations
	ReorderRules  *sites.ReorderRules
	PriceLists    *pricing.PriceLists
	TaxRates      *pricing.TaxRates
	Carriers      *shipping.Carriers

	SupplierPrices *supplierprices.SupplierPrices
}

// buildAPI assembles /v1: every module's routes on one API, whose OpenAPI
// document is generated from the same registrations.
func (a *App) buildAPI() error {
	api := rest.NewAPI("Mainstay ERP API", "1.0.0", a.auth.Issuer())
	eng := resource.NewEngine(a.db, api)
	eng.SetKeyring(a.keyring)
	a.services = Services{
		Companies:     resource.Register[company.Company](eng, company.Spec),
		Units:         resource.Register[catalog.UnitOfMeasure](eng, catalog.UnitSpec),
		TaxCategories: resource.Register[catalog.TaxCategory](eng, catalog.TaxCategorySpec),
		Products:      resource.Register[catalog.Product](eng, catalog.ProductSpec),
		PaymentTerms:  resource.Register[partners.PaymentTerms](eng, partners.PaymentTermsSpec),
		Customers:     resource.Register[partners.Customer](eng, partners.CustomerSpec),
		Suppliers:     resource.Register[partners.Supplier](eng, partners.SupplierSpec),
		Accounts:      resource.Register[chart.Account](eng, chart.Spec),
		ExchangeRates: resource.Register[fx.Rate](eng, fx.Spec),
		PostingRules:  resource.Register[rules.Rule](eng, rules.Spec),
		Warehouses:    resource.Register[sites.Warehouse](eng, sites.WarehouseSpec),
		Locations:     resource.Register[sites.Location](eng, sites.LocationSpec),
		ReorderRules:  resource.Register[sites.ReorderRule](eng, sites.ReorderRuleSpec),
		PriceLists:    resource.Register[pricing.PriceList](eng, pricing.PriceListSpec),
		TaxRates:      resource.Register[pricing.TaxRateRecord](eng, pricing.TaxRateSpec),
		Carriers:      resource.Register[shipping.Carrier](eng, shipping.Spec),

		SupplierPrices: resource.Register[supplierprices.SupplierPrice](eng, supplierprices.Spec),
	}
	sites.AddDefaultLocations(a.services.Warehouses, a.services.Locations)
	pricing.Wire(a.services.PriceLists)
	// Stock history needs the products and locations it names.
	a.services.Products.BeforeDelete(inventory.RefuseDeleteIfMoved("Product", "product_id"))
	a.services.Locations.BeforeDelete(inventory.RefuseDeleteIfMoved("Location", "from_location_id", "to_location_id"))
	// Every new company starts with the standard chart of accounts, in the
	// transaction that creates it.
	a.services.Companies.AfterCreate(func(ctx context.Context, tx *db.Tx, co *company.Company) error {
		if err := chart.Seed(ctx, a.services.Accounts, co.ID); err != nil {
			return err
		}
		return rules.SeedDefaults(ctx, tx, a.services.PostingRules, co.ID)
	})
	api.Handle(rest.Operation{
		ID: "getOperation", Method: http.MethodGet, Path: "/v1/operations/{id}", Tag: "Operations",
		Summary:     "Get a long-running operation",
		Description: "Work that takes longer than a request answers 202 Accepted with an operation; poll it here until done.",
		Params:      []rest.Param{{Name: "id", In: "path"}}, Response: reflect.TypeOf(operations.Operation{}), XML: true, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		op, err := operations.Get(r.Context(), a.db.Reader(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, op)
	})
	rest.MountBatch(api, a.db)
	a.mountEvents(api)
	a.mountAutomation(api)
	auditapi.Mount(api, a.db)
	ledgerapi.Mount(api, a.db)
	inventoryapi.Mount(api, a.db)
	a.orders = orders.New()
	invoicing.Wire(a.orders)
	orders.Mount(api, a.db, a.orders, checkoutCustomers{a.services.Customers})
	invoicing.Mount(api, a.db)
	counts.Mount(api, a.db)
	ledgerapi.MountPeriods(api, a.db)
	sites.Mount(api, a.db)
	pricing.Mount(api, a.db)
	shipping.Mount(api, a.db)
	availability.Mount(api, a.db)
	payments.Mount(api, a.db)
	collections.Mount(api, a.db)
	purchaseorders.Mount(api, a.db)
	bills.Mount(api, a.db)
	paymentruns.Mount(api, a.db, a.services.Companies, a.services.Suppliers, a.keyring)
	taxreport.Mount(api, a.db)
	a.mountHR(api, eng)
	a.mountMfg(api, eng)
	erasedParty := map[string]any{"name": "Erased", "emails": nil, "phones": nil, "billing_address": nil, "shipping_addresses": nil}
	privacy.Mount(api, a.db, map[string]privacy.Subject{
		"customer": {
			Read: func(ctx context.Context, id string) (any, string, error) {
				v, err := a.services.Customers.Get(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return v.Value, v.Value.CompanyID, nil
			},
			Erase: func(ctx context.Context, id string) (any, error) {
				v, err := a.services.Customers.Erase(ctx, id, erasedParty)
				return v.Value, err
			},
		},
		"supplier": {
			Read: func(ctx context.Context, id string) (any, string, error) {
				v, err := a.services.Suppliers.Get(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return v.Value, v.Value.CompanyID, nil
			},
			Erase: func(ctx context.Context, id string) (any, error) {
				v, err := a.services.Suppliers.Erase(ctx, id, erasedParty)
				return v.Value, err
			},
		},
	})
	api.Handle(rest.Operation{
		ID: "getRateLimits", Method: http.MethodGet, Path: "/v1/rate-limits", Tag: "Rate limits",
		Summary:     "Get your rate-limit budget",
		Description: "Your quota and what is left of it for each class of request (read, write, heavy). Every response also carries RateLimit-Policy and RateLimit headers; over quota the answer is 429 with Retry-After.",
		Response:    reflect.TypeOf(ratelimit.Budget{}), XML: true, Errors: []int{503},
	}, func(w http.ResponseWriter, r *http.Request) error {
		st, err := ratelimit.Status(r.Context(), a.limiter, a.policy.Quota, reqctx.Actor(r.Context()))
		if err != nil {
			return apperr.New(apperr.Unavailable, "The rate-limit budget cannot be read right now; retry shortly.").Wrap(err)
		}
		return rest.Respond(w, r, http.StatusOK, ratelimit.Budget{Classes: st})
	})
	authapi.Mount(api, a.db, func(ctx context.Context, companyID string) (bool, error) {
		var found string
		err := a.db.Reader(ctx).QueryRowContext(ctx, "SELECT id FROM companies WHERE id = $1", companyID).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})

	spec, err := api.Spec()
	if err != nil {
		return err
	}
	a.api, a.spec = api, spec
	// Rate limits apply after authentication (they are per client) and
	// before idempotency, so a 429 stores nothing.
	v1 := httpx.Chain(api, a.auth.Middleware,
		ratelimit.Middleware(a.limiter, ratelimit.Classify("POST /v1/batch", "/v1/reports/", "/v1/exports/", "/v1/audit-events/export"), a.policy.Quota, a.log),
		audit.FailureMiddleware(a.db, audit.WithRoutes(api.Mux()), audit.WithLogger(a.log)),
		idempotency.Middleware(a.db))
	a.mux.Handle("/v1/", v1)
	a.mux.Handle("GET /v1/openapi.json", apidocs.SpecHandler(spec))
	a.mux.Handle("GET /docs", apidocs.Handler("/v1/openapi.json"))
	a.mux.Handle("GET /docs/", apidocs.Handler("/v1/openapi.json"))
	a.auth.Routes(a.mux)
	return nil
}

// API is the /v1 API (tests mount extra operations on its mux).
func (a *App) API() *rest.API { return a.api }

// Spec is the generated OpenAPI document.
func (a *App) Spec() []byte { return a.spec }

// Services returns the business modules.
func (a *App) Services() Services { return a.services }

// Auth is the token server.
func (a *App) Auth() *auth.Server { return a.auth }
