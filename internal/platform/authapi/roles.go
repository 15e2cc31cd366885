package authapi

import (
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// RoleRequest creates or replaces a custom role.
type RoleRequest struct {
	Name        string   `json:"name" pattern:"^[a-z][a-z0-9_-]{1,49}$"`
	Description string   `json:"description,omitempty" maxLength:"500"`
	Scopes      []string `json:"scopes" minItems:"1" maxItems:"100"`
}

// RoleList lists built-in and custom roles.
type RoleList struct {
	Data []auth.Role `json:"data"`
}

func mountRoles(api *rest.API, d *db.DB, read, write string) {
	nameParam := []rest.Param{{Name: "name", In: "path"}}
	api.Handle(rest.Operation{
		ID: "listRoles", Method: http.MethodGet, Path: "/v1/roles", Tag: "Roles", Scope: read, XML: true,
		Summary: "List roles", Description: "The built-in roles (read-only) and the custom ones, with their scopes.",
		Response: reflect.TypeOf(RoleList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		roles, err := auth.ListRoles(r.Context(), d)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, RoleList{Data: append([]auth.Role{}, roles...)})
	})
	api.Handle(rest.Operation{
		ID: "getRole", Method: http.MethodGet, Path: "/v1/roles/{name}", Tag: "Roles", Scope: read, XML: true,
		Summary: "Get a role", Params: nameParam, Response: reflect.TypeOf(auth.Role{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		role, err := auth.FindRole(r.Context(), d, r.PathValue("name"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, role)
	})
	api.Handle(rest.Operation{
		ID: "createRole", Method: http.MethodPost, Path: "/v1/roles", Tag: "Roles", Scope: write, Idempotent: true,
		Summary: "Create a custom role", Request: reflect.TypeOf(RoleRequest{}), Response: reflect.TypeOf(auth.Role{}),
		Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in RoleRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		role, err := auth.CreateRole(r.Context(), d, auth.Role{Name: in.Name, Description: in.Description, Scopes: in.Scopes})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusCreated, role)
	})
	api.Handle(rest.Operation{
		ID: "replaceRole", Method: http.MethodPut, Path: "/v1/roles/{name}", Tag: "Roles", Scope: write,
		Summary: "Replace a custom role's description and scopes", Description: "Clients holding the role get the new scopes with their next token.",
		Params: nameParam, Request: reflect.TypeOf(RoleRequest{}), Response: reflect.TypeOf(auth.Role{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in RoleRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		if in.Name != r.PathValue("name") {
			return fieldMismatch("/name")
		}
		role, err := auth.UpdateRole(r.Context(), d, auth.Role{Name: in.Name, Description: in.Description, Scopes: in.Scopes})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, role)
	})
	api.Handle(rest.Operation{
		ID: "deleteRole", Method: http.MethodDelete, Path: "/v1/roles/{name}", Tag: "Roles", Scope: write,
		Summary: "Delete a custom role", Description: "Refused (409) while a client or an outside-issuer mapping uses it.",
		Params: nameParam, Status: http.StatusNoContent, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.DeleteRole(r.Context(), d, r.PathValue("name")); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
}
