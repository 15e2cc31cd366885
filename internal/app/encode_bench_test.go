package app_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/catalog"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Encoding a 50-item page of products, as a list response, in JSON and
// XML:
//
//	go test ./internal/app -run '^$' -bench EncodePage
func BenchmarkEncodePage(b *testing.B) {
	page := struct {
		Data          []catalog.Product `json:"data"`
		NextPageToken string            `json:"next_page_token"`
	}{NextPageToken: "tok"}
	for i := range 50 {
		var p catalog.Product
		p.ID, p.CompanyID, p.CreatedAt, p.UpdatedAt = "prod_01m8e8h7d9pefkpce197w6qyq"+string(rune('a'+i%26)), "co_1", time.Now(), time.Now()
		p.SKU, p.Name, p.ListPrice, p.Currency = "SKU-"+string(rune('A'+i%26)), "A product with a name", money.MustParse("12.50"), "EUR"
		page.Data = append(page.Data, p)
	}
	for _, accept := range []string{"application/json", "application/xml"} {
		b.Run(accept, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/v1/products", nil)
			r.Header.Set("Accept", accept)
			for b.Loop() {
				w := httptest.NewRecorder()
				if err := rest.Respond(w, r, http.StatusOK, page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
