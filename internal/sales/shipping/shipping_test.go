package shipping

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/catalog"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func dec(s string) money.Decimal { return money.MustParse(s) }

func rates(pairs ...string) []CarrierRate {
	var out []CarrierRate
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, CarrierRate{MaxWeightKg: dec(pairs[i]), Amount: dec(pairs[i+1])})
	}
	return out
}

func TestMatchZoneLongestPrefixFirstOnTie(t *testing.T) {
	zones := []CarrierZone{
		{Name: "DE", Countries: []string{"DE"}},
		{Name: "Munich", Countries: []string{"DE"}, PostalPrefixes: []string{"80", "81"}},
		{Name: "Munich centre", Countries: []string{"DE"}, PostalPrefixes: []string{"803"}},
		{Name: "Alps", Countries: []string{"AT", "CH"}},
		{Name: "DE again", Countries: []string{"DE"}},
		{Name: "Westminster", Countries: []string{"GB"}, PostalPrefixes: []string{"SW1"}},
		{Name: "Munich too", Countries: []string{"DE"}, PostalPrefixes: []string{"81"}},
	}
	for _, c := range []struct {
		country, postal, want string
	}{
		{"DE", "80331", "Munich centre"},
		{"DE", "80469", "Munich"},
		{"DE", "81000", "Munich"}, // ties with "Munich too": the first listed wins
		{"DE", "10115", "DE"},     // ties with "DE again" at length 0
		{"DE", "", "DE"},
		{"AT", "1010", "Alps"},
		{"CH", "8001", "Alps"},
		{"GB", "sw1a 1aa", "Westminster"},
		{"GB", "SW1A-1AA", "Westminster"},
		{"GB", "E1 6AN", ""},
		{"FR", "75001", ""},
	} {
		got := ""
		if i := matchZone(zones, c.country, c.postal); i >= 0 {
			got = zones[i].Name
		}
		if got != c.want {
			t.Errorf("%s %q: zone %q, want %q", c.country, c.postal, got, c.want)
		}
	}
}

func TestBandUpperBoundsInclusive(t *testing.T) {
	rs := rates("1", "3.90", "5", "6.90", "31.5", "12.00")
	for _, c := range []struct {
		weight string
		want   int
	}{
		{"0", 0}, {"0.5", 0}, {"1", 0}, {"1.000", 0}, {"1.000001", 1}, {"5", 1}, {"5.0000001", 2}, {"31.5", 2}, {"31.500001", -1}, {"1000", -1},
	} {
		if got := band(rs, dec(c.weight)); got != c.want {
			t.Errorf("weight %s: band %d, want %d", c.weight, got, c.want)
		}
	}
}

func TestValidateCarrierPointers(t *testing.T) {
	valid := func() *Carrier {
		return &Carrier{Code: "DHL", Name: "DHL", Currency: "EUR", Active: true, Zones: []CarrierZone{
			{Name: "DE", Countries: []string{"DE", "AT"}, PostalPrefixes: []string{"80"}, Rates: rates("1", "4.90", "5", "6.90"), FreeAbove: ptr(dec("50.00"))},
		}}
	}
	if errs := validateCarrier(context.Background(), valid()); len(errs) != 0 {
		t.Fatalf("valid carrier refused: %v", errs)
	}
	for _, c := range []struct {
		name    string
		change  func(c *Carrier)
		pointer string
	}{
		{"lower-case country", func(c *Carrier) { c.Zones[0].Countries[0] = "de" }, "/zones/0/countries/0"},
		{"alpha-3 country", func(c *Carrier) { c.Zones[0].Countries[1] = "AUT" }, "/zones/0/countries/1"},
		{"country twice", func(c *Carrier) { c.Zones[0].Countries[1] = "DE" }, "/zones/0/countries/1"},
		{"prefix with space", func(c *Carrier) { c.Zones[0].PostalPrefixes[0] = "80 1" }, "/zones/0/postal_prefixes/0"},
		{"equal bands", func(c *Carrier) { c.Zones[0].Rates[1].MaxWeightKg = dec("1.0") }, "/zones/0/rates/1/max_weight_kg"},
		{"decreasing bands", func(c *Carrier) { c.Zones[0].Rates[1].MaxWeightKg = dec("0.5") }, "/zones/0/rates/1/max_weight_kg"},
		{"zero band", func(c *Carrier) { c.Zones[0].Rates[0].MaxWeightKg = dec("0") }, "/zones/0/rates/0/max_weight_kg"},
		{"band too precise", func(c *Carrier) { c.Zones[0].Rates[0].MaxWeightKg = dec("0.0000001") }, "/zones/0/rates/0/max_weight_kg"},
		{"negative amount", func(c *Carrier) { c.Zones[0].Rates[0].Amount = dec("-1") }, "/zones/0/rates/0/amount"},
		{"amount beyond cents", func(c *Carrier) { c.Zones[0].Rates[1].Amount = dec("6.905") }, "/zones/0/rates/1/amount"},
		{"yen with cents", func(c *Carrier) {
			c.Currency = "JPY"
			c.Zones[0].Rates[0].Amount, c.Zones[0].Rates[1].Amount, c.Zones[0].FreeAbove = dec("500"), dec("700.5"), ptr(dec("5000"))
		}, "/zones/0/rates/1/amount"},
		{"free_above beyond cents", func(c *Carrier) { c.Zones[0].FreeAbove = ptr(dec("49.999")) }, "/zones/0/free_above"},
		{"duplicate zone name", func(c *Carrier) { c.Zones = append(c.Zones, c.Zones[0]) }, "/zones/1/name"},
		{"tracking without placeholder", func(c *Carrier) { c.TrackingURLTemplate = "https://track.example/" }, "/tracking_url_template"},
		{"tracking not http", func(c *Carrier) { c.TrackingURLTemplate = "ftp://track.example/{tracking_number}" }, "/tracking_url_template"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := valid()
			c.change(v)
			errs := validateCarrier(context.Background(), v)
			if len(errs) != 1 || errs[0].Pointer != c.pointer {
				t.Fatalf("errors %v, want one at %s", errs, c.pointer)
			}
		})
	}
	ok := valid()
	ok.TrackingURLTemplate = "https://track.example/?n={tracking_number}"
	if errs := validateCarrier(context.Background(), ok); len(errs) != 0 {
		t.Fatalf("tracking template refused: %v", errs)
	}
}

func ptr[T any](v T) *T { return &v }

// seed writes rows the way the resource engine does, so the store tests
// need no HTTP server.
type seed struct {
	t   *testing.T
	d   *db.DB
	ctx context.Context
}

func (s seed) exec(sqlText string, args ...any) {
	s.t.Helper()
	if _, err := s.d.ExecContext(s.ctx, sqlText, args...); err != nil {
		s.t.Fatalf("%s: %v", strings.Fields(sqlText)[2], err)
	}
}

func (s seed) company(id string) {
	s.exec(`INSERT INTO companies (id, version, created_at, updated_at, doc, legal_name, base_currency, active)
VALUES ($1, 1, $2, $2, '{}', $1, 'EUR', TRUE)`, id, time.Now().UTC())
}

func (s seed) carrier(company string, c Carrier) string {
	s.t.Helper()
	c.ID, c.CompanyID = "car_"+company+"_"+c.Code, company
	if errs := validateCarrier(s.ctx, &c); len(errs) != 0 {
		s.t.Fatalf("carrier %s: %v", c.Code, errs)
	}
	doc, _ := json.Marshal(c)
	s.exec(`INSERT INTO carriers (id, company_id, version, created_at, updated_at, doc, code, name, currency, active)
VALUES ($1, $2, 1, $3, $3, $4, $5, $6, $7, $8)`, c.ID, company, time.Now().UTC(), string(doc), c.Code, c.Name, string(c.Currency), c.Active)
	return c.ID
}

func (s seed) product(company, sku, weight, unit string) string {
	s.t.Helper()
	p := catalog.Product{Meta: resource.Meta{ID: "prod_" + company + "_" + sku}, Owned: resource.Owned{CompanyID: company},
		SKU: sku, Name: sku, StockUnitID: "uom_ea", ListPrice: dec("1"), Currency: "EUR", WeightUnit: unit, Active: true}
	if weight != "" {
		p.Weight = ptr(dec(weight))
	}
	doc, _ := json.Marshal(p)
	s.exec(`INSERT INTO products (id, company_id, version, created_at, updated_at, doc, sku, name, list_price, currency, tax_category_id, active)
VALUES ($1, $2, 1, $3, $3, $4, $5, $5, 1000000, 'EUR', '', TRUE)`, p.ID, company, time.Now().UTC(), string(doc), sku)
	return p.ID
}

func TestQuote(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := seed{t, d, ctx}
		s.company("co_a")
		s.company("co_b")
		dhl := s.carrier("co_a", Carrier{Code: "DHL", Name: "DHL Paket", Currency: "EUR", TaxCategoryID: "taxc_std", Active: true, Zones: []CarrierZone{
			{Name: "Germany", Countries: []string{"DE"}, Rates: rates("1", "4.90", "5", "6.90", "31.5", "12.00"), FreeAbove: ptr(dec("50.00"))},
			{Name: "Munich", Countries: []string{"DE"}, PostalPrefixes: []string{"80", "81"}, Rates: rates("1", "3.90", "10", "5.00")},
		}})
		ups := s.carrier("co_a", Carrier{Code: "UPS", Name: "UPS Standard", Currency: "EUR", Active: true, Zones: []CarrierZone{
			{Name: "DACH", Countries: []string{"DE", "AT", "CH"}, Rates: rates("2", "5.50", "20", "9.00")},
		}})
		usps := s.carrier("co_a", Carrier{Code: "USPS", Name: "USPS", Currency: "USD", Active: true, Zones: []CarrierZone{
			{Name: "US", Countries: []string{"US", "DE"}, Rates: rates("10", "20.00")},
		}})
		old := s.carrier("co_a", Carrier{Code: "OLD", Name: "Gone", Currency: "EUR", Active: false, Zones: []CarrierZone{
			{Name: "DE", Countries: []string{"DE"}, Rates: rates("100", "0.01")},
		}})
		other := s.carrier("co_b", Carrier{Code: "CHEAP", Name: "Other company's", Currency: "EUR", Active: true, Zones: []CarrierZone{
			{Name: "DE", Countries: []string{"DE"}, Rates: rates("100", "0.01")},
		}})
		quote := func(country, postal, weight, goods string, carrier string) Quotation {
			t.Helper()
			res, err := QuoteAll(ctx, d, QuoteInput{CompanyID: "co_a", Currency: "EUR", Destination: Destination{country, postal},
				WeightKg: dec(weight), GoodsValue: dec(goods), CarrierID: carrier})
			if err != nil {
				t.Fatalf("quote %s %s %s: %v", country, postal, weight, err)
			}
			return res
		}
		summary := func(q Quotation) string {
			var parts []string
			for _, o := range q.Options {
				free := ""
				if o.Free {
					free = " free"
				}
				parts = append(parts, o.CarrierCode+"/"+o.Zone+"="+o.Amount.String()+free)
			}
			for _, s := range q.Skipped {
				parts = append(parts, "skip "+s.CarrierCode)
			}
			return strings.Join(parts, ", ")
		}
		for _, c := range []struct{ name, country, postal, weight, goods, want string }{
			{"longest prefix, cheapest first", "DE", "80331", "1", "10", "DHL/Munich=3.90, UPS/DACH=5.50, skip USPS"},
			{"whole country", "DE", "10115", "1", "10", "DHL/Germany=4.90, UPS/DACH=5.50, skip USPS"},
			{"band bound inclusive", "DE", "10115", "5", "10", "DHL/Germany=6.90, UPS/DACH=9.00, skip USPS"},
			{"just above a bound", "DE", "10115", "5.000001", "10", "UPS/DACH=9.00, DHL/Germany=12.00, skip USPS"},
			{"free at the threshold exactly", "DE", "10115", "1", "50.00", "DHL/Germany=0.00 free, UPS/DACH=5.50, skip USPS"},
			{"just below the threshold", "DE", "10115", "1", "49.99", "DHL/Germany=4.90, UPS/DACH=5.50, skip USPS"},
			{"free_above is per zone", "DE", "80331", "1", "1000", "DHL/Munich=3.90, UPS/DACH=5.50, skip USPS"},
			{"too heavy for one", "DE", "10115", "25", "10", "DHL/Germany=12.00, skip UPS, skip USPS"},
			{"too heavy for all", "DE", "10115", "40", "10", "skip DHL, skip UPS, skip USPS"},
			{"no zone", "AT", "1010", "1", "10", "UPS/DACH=5.50, skip DHL, skip USPS"},
			{"weightless cart", "DE", "10115", "0", "10", "DHL/Germany=4.90, UPS/DACH=5.50, skip USPS"},
		} {
			if got := summary(quote(c.country, c.postal, c.weight, c.goods, "")); got != c.want {
				t.Errorf("%s: %s\nwant %s", c.name, got, c.want)
			}
		}
		// The skip reasons and the option's members.
		res := quote("DE", "10115", "25", "10", "")
		if res.Options[0].CarrierID != dhl || res.Options[0].TaxCategoryID != "taxc_std" || res.Options[0].CarrierName != "DHL Paket" || res.Options[0].Currency != "EUR" {
			t.Errorf("option %+v", res.Options[0])
		}
		reasons := map[string]string{}
		for _, s := range res.Skipped {
			reasons[s.CarrierID] = s.Reason
		}
		if !strings.Contains(reasons[ups], "20 kg") || !strings.Contains(reasons[usps], "USD") {
			t.Errorf("reasons %v", reasons)
		}
		if _, listed := reasons[old]; listed {
			t.Error("an archived carrier is listed although not asked for")
		}
		// Quote's options are QuoteAll's.
		opts, err := Quote(ctx, d, QuoteInput{CompanyID: "co_a", Currency: "EUR", Destination: Destination{"DE", "80331"}, WeightKg: dec("1"), GoodsValue: dec("0")})
		if err != nil || len(opts) != 2 || opts[0].CarrierCode != "DHL" {
			t.Fatalf("Quote: %v %+v", err, opts)
		}
		// One carrier, an archived one, another company's.
		if got := summary(quote("DE", "80331", "1", "0", ups)); got != "UPS/DACH=5.50" {
			t.Errorf("only UPS: %s", got)
		}
		if got := quote("DE", "80331", "1", "0", old); len(got.Options) != 0 || len(got.Skipped) != 1 || got.Skipped[0].Reason != archived {
			t.Errorf("archived carrier asked for: %+v", got)
		}
		_, err = Quote(ctx, d, QuoteInput{CompanyID: "co_a", Currency: "EUR", Destination: Destination{"DE", ""}, WeightKg: dec("1"), CarrierID: other})
		if e := apperr.As(err); e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Pointer != "/carrier_id" {
			t.Errorf("another company's carrier: %v", err)
		}
		// Company B sees only its own carrier.
		resB, err := QuoteAll(ctx, d, QuoteInput{CompanyID: "co_b", Currency: "EUR", Destination: Destination{"DE", "80331"}, WeightKg: dec("1")})
		if err != nil || summary(resB) != "CHEAP/DE=0.01" {
			t.Errorf("company B: %v %s", err, summary(resB))
		}
		// Ties order by code.
		s.carrier("co_a", Carrier{Code: "AAA", Name: "Same price", Currency: "EUR", Active: true, Zones: []CarrierZone{
			{Name: "DE", Countries: []string{"DE"}, Rates: rates("50", "5.50")},
		}})
		if got := summary(quote("DE", "10115", "1", "10", "")); got != "DHL/Germany=4.90, AAA/DE=5.50, UPS/DACH=5.50, skip USPS" {
			t.Errorf("tie: %s", got)
		}
		// Input errors name the fields.
		_, err = Quote(ctx, d, QuoteInput{CompanyID: "co_a", Currency: "eur", Destination: Destination{"de", ""}, WeightKg: dec("-1"), GoodsValue: dec("-1")})
		e := apperr.As(err)
		var ptrs []string
		for _, f := range e.Fields {
			ptrs = append(ptrs, f.Pointer)
		}
		if e.Code != apperr.Invalid || strings.Join(ptrs, " ") != "/currency /destination/country /weight_kg /goods_value" {
			t.Errorf("input errors: %v", err)
		}
	})
}

func TestCartWeightKgExact(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := seed{t, d, ctx}
		s.company("co_a")
		s.company("co_b")
		grams := s.product("co_a", "G", "250", "g")
		pound := s.product("co_a", "LB", "1", "lb")
		ounce := s.product("co_a", "OZ", "3", "oz")
		kilo := s.product("co_a", "KG", "2", "kg")
		none := s.product("co_a", "NONE", "", "")
		foreign := s.product("co_b", "G", "1", "kg")
		got, err := CartWeightKg(ctx, d, "co_a", []CartLine{
			{grams, dec("4")},     // 1 kg
			{pound, dec("1")},     // 0.45359237 kg
			{ounce, dec("16")},    // 48 oz = 1.360777110 kg
			{kilo, dec("0.5")},    // 1 kg
			{none, dec("10")},     // 0
			{grams, dec("0.001")}, // 0.00025 kg
		})
		if err != nil {
			t.Fatal(err)
		}
		// 1 + 0.45359237 + 48 × 0.028349523125 + 1 + 0.00025
		if want := dec("3.81461948"); !got.Equal(want) {
			t.Fatalf("weight %s, want %s", got, want)
		}
		if got.String() != "3.81461948" {
			t.Fatalf("weight printed %s", got)
		}
		// 16 oz are exactly one pound.
		lb, _ := CartWeightKg(ctx, d, "co_a", []CartLine{{ounce, dec("16")}})
		one, _ := CartWeightKg(ctx, d, "co_a", []CartLine{{pound, dec("3")}})
		if !lb.Equal(one) {
			t.Fatalf("16 × 3 oz = %s kg, 3 lb = %s kg", lb, one)
		}
		if w, err := CartWeightKg(ctx, d, "co_a", nil); err != nil || !w.IsZero() {
			t.Fatalf("empty cart: %s %v", w, err)
		}
		_, err = CartWeightKg(ctx, d, "co_a", []CartLine{{kilo, dec("1")}, {foreign, dec("1")}, {"prod_nope", dec("1")}, {kilo, dec("-1")}})
		e := apperr.As(err)
		var ptrs []string
		for _, f := range e.Fields {
			ptrs = append(ptrs, f.Pointer)
		}
		if e.Code != apperr.Invalid || strings.Join(ptrs, " ") != "/lines/3/quantity /lines/1/product_id /lines/2/product_id" {
			t.Fatalf("unknown products: %v (%v)", err, ptrs)
		}
	})
}
