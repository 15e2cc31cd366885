// Package apidocs serves the API's own description: the OpenAPI document and
// an interactive explorer (Swagger UI) for it. Everything the explorer needs
// is compiled into the binary, so /docs works on a machine with no internet
// and never makes a browser fetch anything from a third party.
package apidocs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// Path is where Handler serves the explorer page; its assets live under
// Path+"/". Mount the handler on both patterns, e.g.
//
//	mux.Handle("GET /docs", apidocs.Handler("/v1/openapi.json"))
//	mux.Handle("GET /docs/", apidocs.Handler("/v1/openapi.json"))
const Path = "/docs"

// Handler returns the explorer page at Path and its assets under Path+"/".
// specURL is what the browser fetches the OpenAPI document from; give a
// same-origin path such as "/v1/openapi.json".
//
// Sending authenticated requests needs no setup here: Swagger UI's Authorize
// button is built from the spec's securitySchemes, so a bearer (or OAuth 2.0
// client-credentials) scheme in the spec is enough.
func Handler(specURL string) http.Handler {
	ui := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Mainstay API",
		SwaggerJSON: specURL,
		BasePath:    Path,
		// The proxy would relay any ?proxy=<url> through the server: an open
		// SSRF relay. Requests go straight from the browser instead.
		Proxy: false,
		SettingsUI: map[string]string{
			// Swagger UI would otherwise send the spec to validator.swagger.io
			// for a badge. swgui already sets this; pin it against upgrades.
			"validatorUrl": "null",
			// Keeping a token in localStorage would leave it readable by any
			// script on this origin after the tab is closed; re-authorizing
			// is cheap.
			"persistAuthorization":   "false",
			"displayRequestDuration": "true",
		},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// swgui renders the page for any method; a form POST to /docs
		// should not look like it did something.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ui.ServeHTTP(w, r)
	})
}

// SpecHandler serves spec, a JSON document, with a strong ETag derived from
// its bytes so that clients and SDK generators can poll it cheaply: a
// matching If-None-Match gets 304 with no body.
func SpecHandler(spec []byte) http.Handler {
	// Copied so a caller reusing its buffer cannot change what we serve
	// under an ETag computed from the old bytes.
	body := bytes.Clone(spec)
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("ETag", etag)
		// The document changes with every upgrade, so caches may keep it but
		// must revalidate; the ETag makes that a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		// ServeContent implements If-None-Match (weak comparison, lists,
		// "*"), HEAD and Range from the ETag header set above.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
