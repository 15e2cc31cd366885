package apidocs

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
)

const specURL = "/v1/openapi.json"

func newDocsServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := Handler(specURL)
	mux.Handle("GET "+Path, h)
	mux.Handle("GET "+Path+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", rawURL, err)
	}
	return resp, body
}

var (
	// Attributes that make a browser fetch something as soon as the page
	// loads. Swagger UI's own <a href> links are built later, by the bundle.
	assetRef = regexp.MustCompile(`<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']`)
	// A URL naming a host. Bare "https://" literals (the page tests
	// whether the spec URL is absolute) name none and are fine.
	hostURL = regexp.MustCompile("(?i)(?:https?:)?//[a-z0-9][a-z0-9.-]*(?::[0-9]+)?(?:[/?#\"'\\s)]|$)")
	cssURL  = regexp.MustCompile(`(?i)(?:url\(\s*["']?([^"')]+)|@import\s+["']([^"']+))`)
)

func TestExplorerPage(t *testing.T) {
	srv := newDocsServer(t)
	c := srv.Client()

	for _, p := range []string{Path, Path + "/"} {
		resp, body := get(t, c, srv.URL+p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", p, resp.StatusCode)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/html" {
			t.Errorf("GET %s Content-Type = %q, want text/html", p, resp.Header.Get("Content-Type"))
		}
		if !bytes.Contains(body, []byte(`"`+specURL+`"`)) {
			t.Errorf("GET %s: page does not reference the spec URL %q", p, specURL)
		}
	}
}

// TestExplorerIsSelfContained checks that the page works with no internet:
// everything it loads comes from this handler, and neither the page nor its
// inline configuration names another host.
func TestExplorerIsSelfContained(t *testing.T) {
	srv := newDocsServer(t)
	c := srv.Client()
	base, _ := url.Parse(srv.URL + Path)
	_, page := get(t, c, base.String())

	for _, m := range hostURL.FindAllString(string(page), -1) {
		t.Errorf("page refers to a host: %q", m)
	}

	refs := assetRef.FindAllStringSubmatch(string(page), -1)
	if len(refs) < 3 {
		t.Fatalf("found %d <script src>/<link href> in the page, want at least the css and two scripts:\n%s", len(refs), page)
	}
	wantType := map[string]string{
		".js":  "javascript",
		".css": "text/css",
		".png": "image/png",
	}
	for _, ref := range refs {
		raw := ref[1]
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("asset %q: %v", raw, err)
			continue
		}
		if u.Scheme != "" || u.Host != "" {
			t.Errorf("asset %q is not relative", raw)
			continue
		}
		abs := base.ResolveReference(u)
		resp, body := get(t, c, abs.String())
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", abs.Path, resp.StatusCode)
			continue
		}
		if len(body) == 0 {
			t.Errorf("GET %s: empty body", abs.Path)
		}
		ct := resp.Header.Get("Content-Type")
		want, known := wantType[path.Ext(abs.Path)]
		if !known {
			t.Errorf("GET %s: unexpected kind of asset (Content-Type %q)", abs.Path, ct)
		} else if !strings.Contains(ct, want) {
			t.Errorf("GET %s Content-Type = %q, want %s", abs.Path, ct, want)
		}

		switch name := path.Base(abs.Path); {
		case strings.HasSuffix(name, ".css"):
			// A stylesheet fetches only what url() and @import name.
			for _, m := range cssURL.FindAllStringSubmatch(string(body), -1) {
				target := m[1] + m[2]
				if strings.HasPrefix(target, "data:") {
					continue
				}
				if tu, err := url.Parse(target); err != nil || tu.Scheme != "" || tu.Host != "" {
					t.Errorf("%s loads %q", name, target)
				}
			}
		case name == "swagger-ui-bundle.js" || name == "swagger-ui-standalone-preset.js":
			// The vendor bundles carry URLs in strings (docs links, the
			// validator that validatorUrl: null turns off) that are never
			// fetched, so scanning them would only find false alarms.
		case strings.HasSuffix(name, ".js"):
			// Any other script is ours (configuration, init) and small.
			for _, m := range hostURL.FindAllString(string(body), -1) {
				t.Errorf("%s refers to a host: %q", name, m)
			}
		}
	}
}

// TestExplorerAssetsWithoutGzip guards the precompressed assets: a client
// that does not accept gzip must still get plain JavaScript.
func TestExplorerAssetsWithoutGzip(t *testing.T) {
	h := Handler(specURL)
	for _, ae := range []string{"", "gzip"} {
		req := httptest.NewRequest(http.MethodGet, Path+"/swagger-ui-bundle.js", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("Accept-Encoding %q: status %d", ae, rec.Code)
		}
		body := rec.Body.Bytes()
		if got := rec.Header().Get("Content-Encoding"); got != ae {
			t.Errorf("Accept-Encoding %q: Content-Encoding = %q", ae, got)
		}
		if ae == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("gzip body: %v", err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("gzip body: %v", err)
			}
		}
		if !bytes.Contains(body, []byte("SwaggerUIBundle")) {
			t.Errorf("Accept-Encoding %q: body is not the Swagger UI bundle (%d bytes)", ae, len(body))
		}
	}
}

func TestExplorerRefusals(t *testing.T) {
	h := Handler(specURL)
	cases := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, Path + "/no-such-asset.js", http.StatusNotFound},
		{http.MethodPost, Path, http.StatusMethodNotAllowed},
		{http.MethodHead, Path, http.StatusOK},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, rec.Code, tc.want)
		}
	}
}

func TestSpecHandler(t *testing.T) {
	spec := []byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"}}`)
	h := SpecHandler(spec)

	serve := func(method string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, specURL, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	first := serve(http.MethodGet)
	if first.Code != http.StatusOK {
		t.Fatalf("GET = %d, want 200", first.Code)
	}
	if ct := first.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(first.Body.Bytes(), spec) {
		t.Errorf("body = %q, want the spec", first.Body.Bytes())
	}
	etag := first.Header().Get("ETag")
	if len(etag) < 3 || strings.HasPrefix(etag, "W/") || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag = %q, want a strong quoted entity tag", etag)
	}

	// The tag follows the bytes, not the handler instance or the caller's
	// buffer.
	same := httptest.NewRecorder()
	SpecHandler(bytes.Clone(spec)).ServeHTTP(same, httptest.NewRequest(http.MethodGet, specURL, nil))
	if got := same.Header().Get("ETag"); got != etag {
		t.Errorf("same bytes, ETag %q then %q", etag, got)
	}
	other := httptest.NewRecorder()
	SpecHandler(append(bytes.Clone(spec), ' ')).ServeHTTP(other, httptest.NewRequest(http.MethodGet, specURL, nil))
	if other.Header().Get("ETag") == etag {
		t.Error("different bytes got the same ETag")
	}
	spec[0] = 'X'
	if rec := serve(http.MethodGet); rec.Body.String()[0] != '{' || rec.Header().Get("ETag") != etag {
		t.Error("changing the caller's slice changed what is served")
	}

	conditional := []struct {
		ifNoneMatch string
		want        int
	}{
		{etag, http.StatusNotModified},
		{`"stale", ` + etag, http.StatusNotModified},
		{"W/" + etag, http.StatusNotModified}, // If-None-Match compares weakly
		{"*", http.StatusNotModified},
		{`"stale"`, http.StatusOK},
	}
	for _, tc := range conditional {
		rec := serve(http.MethodGet, "If-None-Match", tc.ifNoneMatch)
		if rec.Code != tc.want {
			t.Errorf("If-None-Match %s = %d, want %d", tc.ifNoneMatch, rec.Code, tc.want)
		}
		if tc.want == http.StatusNotModified {
			if rec.Body.Len() != 0 {
				t.Errorf("If-None-Match %s: 304 with a %d-byte body", tc.ifNoneMatch, rec.Body.Len())
			}
			if got := rec.Header().Get("ETag"); got != etag {
				t.Errorf("If-None-Match %s: 304 ETag = %q, want %q", tc.ifNoneMatch, got, etag)
			}
		}
	}

	if rec := serve(http.MethodHead); rec.Code != http.StatusOK || rec.Header().Get("ETag") != etag {
		t.Errorf("HEAD = %d ETag %q", rec.Code, rec.Header().Get("ETag"))
	}
	if rec := serve(http.MethodPost); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("POST = %d Allow %q, want 405 with Allow", rec.Code, rec.Header().Get("Allow"))
	}
}
