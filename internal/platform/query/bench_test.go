package query

import "testing"

// Parsing and compiling a list filter, as every filtered list request
// does:
//
//	go test ./internal/platform/query -run '^$' -bench Filter
func BenchmarkFilter(b *testing.B) {
	const f = `status = "confirmed" AND list_price >= "100.50" AND (name != "x" OR qty > 3) AND created_at < "2026-12-01T00:00:00Z"`
	for b.Loop() {
		e, err := ParseFilter(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := CompileFilter(e, testSchema, 1); err != nil {
			b.Fatal(err)
		}
	}
}
