package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

func TestSelfSignedTLSWithSecurityHeaders(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.TLSSelfSigned = true
	s := apitest.StartConfig(t, cfg)
	pemBytes, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "dev-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS /healthz: %d %+v", resp.StatusCode, resp.TLS)
	}
	for name, want := range map[string]string{
		"Strict-Transport-Security": "max-age=",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Content-Security-Policy":   "default-src 'none'",
	} {
		if !strings.Contains(resp.Header.Get(name), want) {
			t.Errorf("%s = %q, want it to contain %q", name, resp.Header.Get(name), want)
		}
	}
	// TLS 1.1 and older are refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(s.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	// Plain HTTP to the TLS port gets no API answer.
	if resp, err := http.Get(strings.Replace(s.URL, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}
	// The explorer gets a CSP that lets its own scripts run, nothing else.
	resp, err = client.Get(s.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("/docs CSP %q", csp)
	}
}

func TestPlainHTTPHasNoHSTS(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	resp := s.Get(t, "/healthz")
	if resp.Header.Get("Strict-Transport-Security") != "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", resp.Header)
	}
}
