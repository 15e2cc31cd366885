package crypto

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// With a warm cache neither operation touches the database: these measure
// the cryptography and the cache. The engine does not matter.
func BenchmarkEncrypt(b *testing.B) {
	k := NewKeyring(dbtest.Open(b, db.SQLite), randomMaster(b))
	mustEncrypt(b, k, "cmp_1", "cus_1", "tax_id", "warm")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Encrypt(ctx, "cmp_1", "cus_1", "tax_id", "DE 123 456 789"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k := NewKeyring(dbtest.Open(b, db.SQLite), randomMaster(b))
	v := mustEncrypt(b, k, "cmp_1", "cus_1", "tax_id", "DE 123 456 789")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Decrypt(ctx, "cus_1", "tax_id", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	k := NewKeyring(nil, randomMaster(b))
	b.ReportAllocs()
	for b.Loop() {
		k.BlindIndex("tax_id", "DE 123-456-789")
	}
}
