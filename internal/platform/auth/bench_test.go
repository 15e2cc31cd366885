package auth

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// Validating an access token, as every /v1 request does (signature,
// claims, the client's revocation status from its cache):
//
//	go test ./internal/platform/auth -run '^$' -bench Verify
func BenchmarkVerify(b *testing.B) {
	for _, e := range dbtest.Engines {
		b.Run(string(e), func(b *testing.B) {
			ctx := context.Background()
			d := dbtest.Open(b, e)
			s, err := NewServer(d, Options{Issuer: testIssuer})
			if err != nil {
				b.Fatal(err)
			}
			c, _, err := CreateClient(ctx, d, NewClient{Name: "bench", Roles: []string{"sales"}})
			if err != nil {
				b.Fatal(err)
			}
			tok, err := s.issue(ctx, c, []string{"sales:read"})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("repeat", func(b *testing.B) { // a client's next requests: the checked token remembered
				for b.Loop() {
					if _, err := s.Verify(ctx, tok.raw); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("first", func(b *testing.B) { // a token's first request on this node: the signature checked
				for b.Loop() {
					clear(s.verified.entries)
					if _, err := s.Verify(ctx, tok.raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
