package authapi

import (
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// IssuerRequest trusts an outside identity provider.
type IssuerRequest struct {
	Issuer   string           `json:"issuer" minLength:"8" maxLength:"500" doc:"The IdP's issuer URL, as in its tokens' iss."`
	JWKSURL  string           `json:"jwks_url,omitempty" maxLength:"500" doc:"Where its signing keys are; discovered from its metadata when absent."`
	Audience string           `json:"audience" minLength:"1" maxLength:"500" doc:"The aud its tokens for Mainstay carry."`
	Mappings []MappingRequest `json:"mappings" maxItems:"100" doc:"Who gets which roles; a subject no mapping matches is refused (403)."`
}

// MappingRequest grants roles and companies to matching outside tokens.
type MappingRequest struct {
	ClientID  string   `json:"client_id,omitempty" doc:"Matches the token's client_id, else azp, else sub."`
	Claim     string   `json:"claim,omitempty" doc:"A claim (dotted path for nested ones, e.g. realm_access.roles)."`
	Value     string   `json:"value,omitempty" doc:"The value Claim must equal or, for an array, contain."`
	Roles     []string `json:"roles" minItems:"1"`
	Companies []string `json:"companies,omitempty"`
}

// IssuerList lists trusted issuers.
type IssuerList struct {
	Data []auth.TrustedIssuer `json:"data"`
}

func (in IssuerRequest) toAuth() auth.TrustedIssuer {
	out := auth.TrustedIssuer{Issuer: in.Issuer, JWKSURL: in.JWKSURL, Audience: in.Audience}
	for _, m := range in.Mappings {
		out.Mappings = append(out.Mappings, auth.Mapping{ClientID: m.ClientID, Claim: m.Claim, Value: m.Value, Roles: m.Roles, Companies: m.Companies})
	}
	return out
}

func fieldMismatch(pointer string) error {
	return apperr.Field(pointer, "The body names another record than the path.")
}

func mountIssuers(api *rest.API, d *db.DB, read, write string) {
	issuerParam := []rest.Param{{Name: "issuer", In: "path", Description: "The issuer URL, percent-encoded."}}
	api.Handle(rest.Operation{
		ID: "listTrustedIssuers", Method: http.MethodGet, Path: "/v1/trusted-issuers", Tag: "Trusted issuers", Scope: read,
		Summary: "List trusted outside identity providers", Response: reflect.TypeOf(IssuerList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		list, err := auth.ListTrustedIssuers(r.Context(), d)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, IssuerList{Data: append([]auth.TrustedIssuer{}, list...)})
	})
	api.Handle(rest.Operation{
		ID: "createTrustedIssuer", Method: http.MethodPost, Path: "/v1/trusted-issuers", Tag: "Trusted issuers", Scope: write, Idempotent: true,
		Summary: "Trust an outside identity provider", Description: "Its access tokens are accepted for the subjects the mappings name, with the mapped roles and companies.",
		Request: reflect.TypeOf(IssuerRequest{}), Response: reflect.TypeOf(auth.TrustedIssuer{}), Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in IssuerRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		out, err := auth.CreateTrustedIssuer(r.Context(), d, in.toAuth())
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "getTrustedIssuer", Method: http.MethodGet, Path: "/v1/trusted-issuers/{issuer}", Tag: "Trusted issuers", Scope: read,
		Summary: "Get a trusted issuer", Params: issuerParam, Response: reflect.TypeOf(auth.TrustedIssuer{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		out, err := auth.FindTrustedIssuer(r.Context(), d, r.PathValue("issuer"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "replaceTrustedIssuer", Method: http.MethodPut, Path: "/v1/trusted-issuers/{issuer}", Tag: "Trusted issuers", Scope: write,
		Summary: "Replace a trusted issuer's settings and mappings", Params: issuerParam,
		Request: reflect.TypeOf(IssuerRequest{}), Response: reflect.TypeOf(auth.TrustedIssuer{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in IssuerRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		if in.Issuer != r.PathValue("issuer") {
			return fieldMismatch("/issuer")
		}
		out, err := auth.UpdateTrustedIssuer(r.Context(), d, in.toAuth())
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "deleteTrustedIssuer", Method: http.MethodDelete, Path: "/v1/trusted-issuers/{issuer}", Tag: "Trusted issuers", Scope: write,
		Summary: "Stop trusting an outside identity provider", Params: issuerParam, Status: http.StatusNoContent, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.DeleteTrustedIssuer(r.Context(), d, r.PathValue("issuer")); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
}
