// Command specmutate makes a deliberately breaking copy of an OpenAPI
// document by deleting one property from a 2xx response schema. CI uses it
// to prove that the breaking-change check can fail.
//
// Usage:
//
//	specmutate IN.json OUT.json
//
// It prints what it removed on standard output.
package main

import (
	"fmt"
	"os"

	"github.com/mainstay-erp/mainstay/internal/platform/apidocs"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: specmutate IN.json OUT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "specmutate:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	spec, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	mutated, removal, err := apidocs.RemoveResponseProperty(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.WriteFile(out, mutated, 0o644); err != nil {
		return err
	}
	fmt.Println(removal)
	return nil
}
