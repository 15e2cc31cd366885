// Package security holds the security test suite: at least one test per
// item of the OWASP API Security Top 10 (2023), each against the real
// server over HTTP on both engines. The tests live in security_test.go,
// named after the item they cover (TestAPI1…TestAPI10); docs/security.md
// maps each item to its tests.
package security
