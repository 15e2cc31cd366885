package auth

import (
	"context"
	"fmt"
	"slices"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Authority is what work set up by a client earlier (a webhook endpoint,
// an automation rule) may do now: the grant recorded when it was set up
// (the creator's token: its scopes and companies), narrowed to what the
// client holds today. So a client that loses a role or a company stops
// receiving, or acting on, what that role or company covered, and a
// revoked or deleted client's work stops altogether (ok is false, with
// the reason). It never widens the recorded grant: a client that gains a
// role later must set the work up again to use it.
//
// Only registered clients can own such work: a principal from an outside
// identity provider has no row to check again, so its work has no
// authority (ok false).
func Authority(ctx context.Context, q db.Querier, granted Principal) (p Principal, ok bool, reason string, err error) {
	c, err := FindClient(ctx, q, granted.ClientID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Principal{}, false, "the owning client " + granted.ClientID + " is not a registered client", nil
	}
	if err != nil {
		return Principal{}, false, "", fmt.Errorf("authority of %s: %w", granted.ClientID, err)
	}
	if c.Revoked() {
		return Principal{}, false, "the owning client " + c.ID + " was revoked", nil
	}
	now, err := ResolveScopes(ctx, q, c.Roles)
	if err != nil {
		// A custom role deleted under the client: fail closed.
		return Principal{}, false, "the owning client's roles cannot be resolved: " + apperr.As(err).Message, nil
	}
	out := Principal{ClientID: c.ID, Roles: c.Roles}
	for _, s := range granted.Scopes {
		if slices.Contains(now, s) {
			out.Scopes = append(out.Scopes, s)
		}
	}
	switch {
	case len(granted.Companies) == 0:
		out.Companies = slices.Clone(c.Companies)
	case len(c.Companies) == 0:
		out.Companies = slices.Clone(granted.Companies)
	default:
		for _, co := range granted.Companies {
			if slices.Contains(c.Companies, co) {
				out.Companies = append(out.Companies, co)
			}
		}
		if len(out.Companies) == 0 {
			// An empty list would mean every company: the client was
			// taken out of every company the work was set up in.
			return Principal{}, false, "the owning client no longer has access to the companies it subscribed in", nil
		}
	}
	return out, true, "", nil
}
