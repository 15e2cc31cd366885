package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite README.md's configuration table from the options table")

// The README's configuration table is the options table, so the two never
// drift apart (go test ./internal/platform/config -run README -update).
func TestREADMEListsEveryOption(t *testing.T) {
	const path = "../../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	if *updateREADME {
		start := strings.Index(text, "| flag | environment |")
		end := strings.Index(text[start:], "\n\n")
		if start < 0 || end < 0 {
			t.Fatal("README.md has no configuration table to replace")
		}
		text = text[:start] + strings.TrimSuffix(Table(), "\n") + text[start+end:]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(text, Table()) {
		t.Fatalf("README.md's configuration table differs from config.Table(); run go test ./internal/platform/config -run README -update")
	}
}
