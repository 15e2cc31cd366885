package app

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// DemoExternalID marks the demo company.
const DemoExternalID = "mainstay-demo"

// demoClientName names the client --demo makes on each start.
const demoClientName = "demo"

// seedDemo creates the demo company with its catalog and partners, once,
// and a fresh admin client for it on every start (the previous demo
// clients are revoked: a secret is shown only once, so a restart needs a
// new one). It prints the credentials and a first request.
func (a *App) seedDemo(ctx context.Context, out io.Writer, baseURL string) error {
	ctx = auth.WithPrincipal(reqctx.WithActor(ctx, "system"), auth.Principal{ClientID: "system", Scopes: auth.AllScopes()})
	s := a.services
	co, err := s.Companies.GetByExternalID(ctx, "", DemoExternalID)
	switch {
	case err == nil:
		// made on an earlier start: kept
	case apperr.CodeOf(err) == apperr.NotFound:
		co, err = s.Companies.Create(ctx, "", map[string]any{
			"external_id": DemoExternalID, "legal_name": "Mainstay Demo Trading GmbH", "base_currency": "EUR",
			"time_zone": "Europe/Berlin", "fiscal_year_start": "01-01",
			"addresses": []any{map[string]any{"kind": "registered", "line1": "Hafenstraße 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}},
			"tax_ids":   []any{map[string]any{"scheme": "eu_vat", "value": "DE123456789"}},
		})
		if err != nil {
			return fmt.Errorf("seed demo company: %w", err)
		}
		if err := a.seedDemoData(ctx, co.Value.ID); err != nil {
			return err
		}
	default:
		return fmt.Errorf("find demo company: %w", err)
	}
	companyID := co.Value.ID
	clients, err := auth.ListClients(ctx, a.db)
	if err != nil {
		return err
	}
	for _, c := range clients {
		if c.Name == demoClientName && c.RevokedAt == nil {
			if err := auth.RevokeClient(ctx, a.db, c.ID); err != nil {
				return err
			}
		}
	}
	c, secret, err := auth.CreateClient(ctx, a.db, auth.NewClient{Name: demoClientName, Roles: []string{"admin"}, Companies: []string{companyID}})
	if err != nil {
		return fmt.Errorf("create demo client: %w", err)
	}
	fmt.Fprint(out, DemoInstructions(baseURL, companyID, c.ID, secret))
	return nil
}

// DemoInstructions is what --demo prints: credentials and a first request
// that works as pasted into a POSIX shell.
func DemoInstructions(baseURL, companyID, clientID, secret string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nDemo company %s is ready. An admin client for it:\n\n", companyID)
	fmt.Fprintf(&b, "  client_id:     %s\n  client_secret: %s\n\n", clientID, secret)
	fmt.Fprintf(&b, "Get a token and list products:\n\n")
	fmt.Fprintf(&b, "  TOKEN=$(curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n", clientID, secret, baseURL)
	fmt.Fprintf(&b, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/products?page_size=5'\n\n", baseURL)
	fmt.Fprintf(&b, "Explore the API at %s/docs (Authorize with the client id and secret).\n\n", baseURL)
	return b.String()
}

func (a *App) seedDemoData(ctx context.Context, company string) error {
	s := a.services
	create := func(what string, fn func() (string, error)) (string, error) {
		id, err := fn()
		if err != nil {
			return "", fmt.Errorf("seed demo %s: %w", what, err)
		}
		return id, nil
	}
	units := map[string]string{}
	for _, u := range [][2]string{{"ea", "Each"}, {"box", "Box"}, {"kg", "Kilogram"}, {"m", "Metre"}} {
		id, err := create("unit", func() (string, error) {
			v, err := s.Units.Create(ctx, company, map[string]any{"code": u[0], "name": u[1], "external_id": "uom-" + u[0]})
			return metaID(v, err)
		})
		if err != nil {
			return err
		}
		units[u[0]] = id
	}
	taxes := map[string]string{}
	for _, t := range [][2]string{{"standard", "Standard rate"}, {"reduced", "Reduced rate"}, {"exempt", "Exempt"}} {
		id, err := create("tax category", func() (string, error) {
			v, err := s.TaxCategories.Create(ctx, company, map[string]any{"code": t[0], "name": t[1]})
			return metaID(v, err)
		})
		if err != nil {
			return err
		}
		taxes[t[0]] = id
	}
	terms := map[string]string{}
	for _, t := range []map[string]any{
		{"code": "net30", "name": "30 days net", "net_days": 30},
		{"code": "net14", "name": "14 days net", "net_days": 14},
		{"code": "2-10-net30", "name": "2 % in 10 days, 30 days net", "net_days": 30, "discount_percent": "2", "discount_days": 10},
	} {
		id, err := create("payment terms", func() (string, error) {
			v, err := s.PaymentTerms.Create(ctx, company, t)
			return metaID(v, err)
		})
		if err != nil {
			return err
		}
		terms[t["code"].(string)] = id
	}
	kinds := []string{"Espresso Beans", "Filter Coffee", "Green Tea", "Black Tea", "Cocoa Powder", "Oat Milk", "Ceramic Mug", "Travel Mug", "Pour-over Kettle", "Burr Grinder"}
	sizes := []string{"Small", "Medium", "Large"}
	n := 0
	for ki, k := range kinds {
		for si, sz := range sizes {
			n++
			price := fmt.Sprintf("%d.%02d", 4+ki*3+si*2, (ki*37+si*11)%100)
			tax := taxes["standard"]
			if ki < 6 {
				tax = taxes["reduced"]
			}
			body := map[string]any{
				"sku": fmt.Sprintf("DEMO-%03d", n), "name": k + " " + sz, "external_id": fmt.Sprintf("shop-%d", 1000+n),
				"description":   "Demo product: " + strings.ToLower(k) + ", " + strings.ToLower(sz) + ".",
				"stock_unit_id": units["ea"], "list_price": price, "currency": "EUR", "tax_category_id": tax,
				"weight": fmt.Sprintf("0.%d", 2+si*3), "weight_unit": "kg",
			}
			if si == 2 {
				body["sales_unit_id"], body["sales_unit_factor"] = units["box"], "6"
			}
			if _, err := create("product", func() (string, error) { return metaID(s.Products.Create(ctx, company, body)) }); err != nil {
				return err
			}
		}
	}
	cities := [][3]string{{"Berlin", "10115", "DE"}, {"München", "80331", "DE"}, {"Wien", "1010", "AT"}, {"Zürich", "8001", "CH"}, {"Amsterdam", "1011", "NL"}}
	for i := 1; i <= 20; i++ {
		c := cities[i%len(cities)]
		group := "retail"
		if i%4 == 0 {
			group = "wholesale"
		}
		body := map[string]any{
			"name": fmt.Sprintf("Demo Café %02d", i), "emails": []any{fmt.Sprintf("orders%02d@example.com", i)},
			"billing_address": map[string]any{"line1": fmt.Sprintf("Hauptstraße %d", i), "city": c[0], "postal_code": c[1], "country": c[2]},
			"currency":        "EUR", "payment_terms_id": terms["net30"], "customer_group": group, "credit_limit": fmt.Sprintf("%d000.00", 5+i%5),
			"external_id": fmt.Sprintf("crm-%d", 500+i),
		}
		if _, err := create("customer", func() (string, error) { return metaID(s.Customers.Create(ctx, company, body)) }); err != nil {
			return err
		}
	}
	for i := 1; i <= 10; i++ {
		body := map[string]any{
			"name": fmt.Sprintf("Demo Supplier %02d", i), "emails": []any{fmt.Sprintf("sales%02d@supplier.example", i)},
			"currency": "EUR", "payment_terms_id": terms["2-10-net30"], "supplier_group": "goods",
		}
		if _, err := create("supplier", func() (string, error) { return metaID(s.Suppliers.Create(ctx, company, body)) }); err != nil {
			return err
		}
	}
	if err := a.seedDemoLedger(ctx, company); err != nil {
		return err
	}
	if err := a.seedDemoStock(ctx, company); err != nil {
		return err
	}
	if err := a.seedDemoSales(ctx, company); err != nil {
		return err
	}
	if err := a.seedDemoPurchasing(ctx, company); err != nil {
		return err
	}
	if err := a.seedDemoHR(ctx, company); err != nil {
		return err
	}
	return a.seedDemoMfg(ctx, company)
}

// metaID returns the id of a created record.
func metaID[T any](v resource.Versioned[T], err error) (string, error) {
	if err != nil {
		return "", err
	}
	return resource.ID(v.Value), nil
}
