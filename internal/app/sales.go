package app

import (
	"context"
	"errors"

	"github.com/mainstay-erp/mainstay/internal/partners"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// checkoutCustomers finds a storefront's customer by external id, or
// creates it, for one-call checkout. An existing customer is used as it is:
// the ERP's record (credit limit, terms, exemptions) wins over the cart's.
type checkoutCustomers struct {
	r *resource.Resource[partners.Customer, *partners.Customer]
}

func (c checkoutCustomers) FindOrCreate(ctx context.Context, companyID string, in orders.CustomerInput, cur money.Currency) (string, error) {
	v, err := c.r.GetByExternalID(ctx, companyID, in.ExternalID)
	if err == nil {
		return resource.ID(v.Value), nil
	}
	if apperr.CodeOf(err) != apperr.NotFound {
		return "", err
	}
	body := map[string]any{"external_id": in.ExternalID, "name": in.Name, "currency": string(cur)}
	if len(in.Emails) > 0 {
		body["emails"] = in.Emails
	}
	if in.CustomerGroup != "" {
		body["customer_group"] = in.CustomerGroup
	}
	v, err = c.r.Create(ctx, companyID, body)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Conflict {
		// Another checkout created this customer since we looked (its
		// unique external id, seen by the insert or by the engine's
		// check): the checkout runs again and finds it.
		return "", ae.Wrap(orders.ErrRaced)
	}
	if errors.As(err, &ae) {
		// The checkout body holds the customer under /customer.
		fields := make([]apperr.FieldError, len(ae.Fields))
		for i, f := range ae.Fields {
			fields[i] = apperr.FieldError{Pointer: "/customer" + f.Pointer, Detail: f.Detail}
		}
		return "", apperr.New(ae.Code, "%s", ae.Message).WithFields(fields...).Wrap(err)
	}
	if err != nil {
		return "", err
	}
	return resource.ID(v.Value), nil
}
