// Package authapi exposes identity administration over the API: the
// clients (machine identities) at /v1/clients. It is thin: the rules live
// in package auth, which the CLI calls too.
package authapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Client is a client as the API shows it; the secret never appears, except
// once in NewClientResponse.
type Client struct {
	ID        string     `json:"id" readOnly:"true"`
	Name      string     `json:"name" minLength:"1" maxLength:"200"`
	Roles     []string   `json:"roles" minItems:"1" doc:"Built-in or custom role names."`
	Companies []string   `json:"companies,omitempty" doc:"The companies it works in; empty: every company."`
	CreatedAt time.Time  `json:"created_at" readOnly:"true"`
	RevokedAt *time.Time `json:"revoked_at,omitempty" readOnly:"true"`
}

// NewClientRequest creates a client.
type NewClientRequest struct {
	Name      string   `json:"name" minLength:"1" maxLength:"200"`
	Roles     []string `json:"roles" minItems:"1"`
	Companies []string `json:"companies,omitempty"`
	PublicKey string   `json:"public_key,omitempty" maxLength:"4096" doc:"An Ed25519 or P-256 public key (PEM or JWK) for private_key_jwt client authentication (RFC 7523)."`
	NoSecret  bool     `json:"no_secret,omitempty" doc:"Authenticate with the key only: no secret is made."`
}

// RotateSecretRequest rotates a client's secret.
type RotateSecretRequest struct {
	OverlapSeconds int `json:"overlap_seconds,omitempty" minimum:"0" maximum:"2592000" doc:"How long the old secret keeps working; 0: it stops now."`
}

// RotateSecretResponse carries the new secret, shown this once.
type RotateSecretResponse struct {
	ClientSecret      string    `json:"client_secret"`
	PreviousExpiresAt time.Time `json:"previous_expires_at" doc:"When the old secret stops working."`
}

// NewKeyRequest registers a public key for a client.
type NewKeyRequest struct {
	PublicKey string `json:"public_key" minLength:"1" maxLength:"4096"`
}

// ClientRateLimits are a client's own quotas, LIMIT/WINDOW[:BURST].
type ClientRateLimits struct {
	Read  string `json:"read,omitempty" pattern:"^[0-9]+/[0-9]+[smh]+(:[0-9]+)?$" doc:"e.g. 1200/1m"`
	Write string `json:"write,omitempty" pattern:"^[0-9]+/[0-9]+[smh]+(:[0-9]+)?$"`
	Heavy string `json:"heavy,omitempty" pattern:"^[0-9]+/[0-9]+[smh]+(:[0-9]+)?$"`
}

func str(q ratelimit.Quota) string {
	if !q.Valid() {
		return ""
	}
	return q.String()
}

// KeyList lists a client's public keys.
type KeyList struct {
	Data []auth.ClientKey `json:"data"`
}

// NewClientResponse carries the secret, shown this once.
type NewClientResponse struct {
	Client
	ClientSecret string `json:"client_secret" doc:"Shown only in this response; store it safely."`
}

// ClientList is the list of clients.
type ClientList struct {
	Data          []Client `json:"data"`
	NextPageToken string   `json:"next_page_token"`
}

func fromAuth(c auth.Client) Client {
	return Client{ID: c.ID, Name: c.Name, Roles: c.Roles, Companies: c.Companies, CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt}
}

// CompanyExists tells whether a company id exists; the API refuses clients
// for unknown companies.
type CompanyExists func(ctx context.Context, id string) (bool, error)

// Mount adds the client administration routes.
func Mount(api *rest.API, d *db.DB, companyExists CompanyExists) {
	read, write := auth.Scope("clients", auth.Read), auth.Scope("clients", auth.Write)
	api.Handle(rest.Operation{
		ID: "listClients", Method: http.MethodGet, Path: "/v1/clients", Tag: "Clients", Scope: read,
		Summary: "List API clients", Response: reflect.TypeOf(ClientList{}), XML: true,
	}, func(w http.ResponseWriter, r *http.Request) error {
		list, err := auth.ListClients(r.Context(), d)
		if err != nil {
			return err
		}
		out := ClientList{Data: make([]Client, len(list))}
		for i, c := range list {
			out.Data[i] = fromAuth(c)
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "createClient", Method: http.MethodPost, Path: "/v1/clients", Tag: "Clients", Scope: write, Idempotent: true,
		Summary: "Create an API client", Description: "The response carries the client secret, shown only this once.",
		Request: reflect.TypeOf(NewClientRequest{}), Response: reflect.TypeOf(NewClientResponse{}), Status: http.StatusCreated,
		Headers: []string{"Location"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in NewClientRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		for i, co := range in.Companies {
			ok, err := companyExists(r.Context(), co)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Field(fmt.Sprintf("/companies/%d", i), "No company %q.", co)
			}
		}
		c, secret, err := auth.CreateClient(r.Context(), d, auth.NewClient{Name: in.Name, Roles: in.Roles, Companies: in.Companies, PublicKey: in.PublicKey, NoSecret: in.NoSecret})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/clients/"+c.ID)
		return rest.Respond(w, r, http.StatusCreated, NewClientResponse{Client: fromAuth(c), ClientSecret: secret})
	})
	api.Handle(rest.Operation{
		ID: "getClient", Method: http.MethodGet, Path: "/v1/clients/{id}", Tag: "Clients", Scope: read,
		Summary: "Get an API client", Params: []rest.Param{{Name: "id", In: "path"}}, Response: reflect.TypeOf(Client{}), XML: true, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		c, err := auth.FindClient(r.Context(), d, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, fromAuth(c))
	})
	api.Handle(rest.Operation{
		ID: "revokeClient", Method: http.MethodDelete, Path: "/v1/clients/{id}", Tag: "Clients", Scope: write,
		Summary: "Revoke an API client", Description: "Its tokens stop working within seconds. The record stays, marked revoked, for the audit trail.",
		Params: []rest.Param{{Name: "id", In: "path"}}, Status: http.StatusNoContent, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.RevokeClient(r.Context(), d, r.PathValue("id")); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	idParam := []rest.Param{{Name: "id", In: "path"}}
	api.Handle(rest.Operation{
		ID: "rotateClientSecret", Method: http.MethodPost, Path: "/v1/clients/{id}/secret", Tag: "Clients", Scope: write,
		Summary: "Rotate a client's secret", Description: "The new secret is shown once; the old one keeps working for the overlap, so integrations switch without downtime.",
		Params: idParam, Request: reflect.TypeOf(RotateSecretRequest{}), Response: reflect.TypeOf(RotateSecretResponse{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in RotateSecretRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		overlap := time.Duration(in.OverlapSeconds) * time.Second
		secret, err := auth.RotateSecret(r.Context(), d, r.PathValue("id"), overlap)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, RotateSecretResponse{ClientSecret: secret, PreviousExpiresAt: d.Now().Add(overlap)})
	})
	api.Handle(rest.Operation{
		ID: "listClientKeys", Method: http.MethodGet, Path: "/v1/clients/{id}/keys", Tag: "Clients", Scope: read,
		Summary: "List a client's public keys", Params: idParam, Response: reflect.TypeOf(KeyList{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.FindClient(r.Context(), d, r.PathValue("id")); err != nil {
			return err
		}
		keys, err := auth.ListClientKeys(r.Context(), d, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, KeyList{Data: append([]auth.ClientKey{}, keys...)})
	})
	api.Handle(rest.Operation{
		ID: "addClientKey", Method: http.MethodPost, Path: "/v1/clients/{id}/keys", Tag: "Clients", Scope: write,
		Summary: "Register a public key for private_key_jwt", Params: idParam, Request: reflect.TypeOf(NewKeyRequest{}),
		Response: reflect.TypeOf(auth.ClientKey{}), Status: http.StatusCreated, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in NewKeyRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		k, err := auth.AddClientKey(r.Context(), d, r.PathValue("id"), in.PublicKey)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusCreated, k)
	})
	api.Handle(rest.Operation{
		ID: "removeClientKey", Method: http.MethodDelete, Path: "/v1/clients/{id}/keys/{kid}", Tag: "Clients", Scope: write,
		Summary: "Remove a client's public key", Params: []rest.Param{{Name: "id", In: "path"}, {Name: "kid", In: "path"}},
		Status: http.StatusNoContent, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.RemoveClientKey(r.Context(), d, r.PathValue("id"), r.PathValue("kid")); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	api.Handle(rest.Operation{
		ID: "getClientRateLimits", Method: http.MethodGet, Path: "/v1/clients/{id}/rate-limits", Tag: "Clients", Scope: read,
		Summary: "Get a client's own quotas", Description: "Classes not listed use the server's defaults.",
		Params: idParam, Response: reflect.TypeOf(ClientRateLimits{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.FindClient(r.Context(), d, r.PathValue("id")); err != nil {
			return err
		}
		q, err := ratelimit.Get(r.Context(), d, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, ClientRateLimits{Read: str(q[ratelimit.ClassRead]), Write: str(q[ratelimit.ClassWrite]), Heavy: str(q[ratelimit.ClassHeavy])})
	})
	api.Handle(rest.Operation{
		ID: "setClientRateLimits", Method: http.MethodPut, Path: "/v1/clients/{id}/rate-limits", Tag: "Clients", Scope: write,
		Summary: "Set a client's own quotas", Description: "Replaces the client's quotas; a class left out uses the server's default. Every node applies the change within 5 seconds.",
		Params: idParam, Request: reflect.TypeOf(ClientRateLimits{}), Response: reflect.TypeOf(ClientRateLimits{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in ClientRateLimits
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		if _, err := auth.FindClient(r.Context(), d, r.PathValue("id")); err != nil {
			return err
		}
		quotas := map[string]ratelimit.Quota{}
		for _, c := range []struct{ class, text, ptr string }{{ratelimit.ClassRead, in.Read, "/read"}, {ratelimit.ClassWrite, in.Write, "/write"}, {ratelimit.ClassHeavy, in.Heavy, "/heavy"}} {
			if c.text == "" {
				continue
			}
			q, err := ratelimit.ParseQuota(c.text)
			if err != nil || !q.Valid() {
				return apperr.Field(c.ptr, "Want LIMIT/WINDOW[:BURST], e.g. 600/1m.")
			}
			quotas[c.class] = q
		}
		if err := ratelimit.Set(r.Context(), d, r.PathValue("id"), quotas); err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, in)
	})
	mountRoles(api, d, read, write)
	mountIssuers(api, d, read, write)
}
