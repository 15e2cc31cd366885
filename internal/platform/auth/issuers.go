package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// TrustedIssuersChangedTopic is notified when a trusted issuer is created,
// changed or deleted, so this node rereads them at once (others within
// the client cache's lifetime).
const TrustedIssuersChangedTopic = "auth.trusted_issuers"

// Limits of a trusted issuer's configuration.
const (
	maxURLLen         = 500
	maxMappings       = 200
	maxClaimNameLen   = 200
	maxClaimValueLen  = 500
	maxOutsideSubject = 255
)

// TrustedIssuer is an outside identity provider whose access tokens the
// API accepts. Its tokens must carry Audience in "aud"; they are checked
// with the keys at JWKSURL, or, when that is empty, at the jwks_uri of its
// metadata (<issuer>/.well-known/openid-configuration, else RFC 8414's
// /.well-known/oauth-authorization-server). What a token grants comes
// only from Mappings: the first mapping that matches decides, and a token
// none matches is refused with 403, never given a default.
type TrustedIssuer struct {
	Issuer    string    `json:"issuer"`
	JWKSURL   string    `json:"jwks_url,omitempty"`
	Audience  string    `json:"audience"`
	Mappings  []Mapping `json:"mappings"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Mapping grants roles and companies to the tokens it matches: either
// those of one outside client (ClientID, compared with the token's
// client_id, else azp, else sub), or those whose claim Claim equals Value
// (or, for an array claim such as groups, contains it). Claim may be a
// dotted path into nested objects ("realm_access.roles") when no
// top-level claim has that exact name.
type Mapping struct {
	ClientID  string   `json:"client_id,omitempty"`
	Claim     string   `json:"claim,omitempty"`
	Value     string   `json:"value,omitempty"`
	Roles     []string `json:"roles"`
	Companies []string `json:"companies"` // empty: every company
}

// isLoopbackHost reports whether host is this machine, where plain HTTP
// cannot be intercepted on the way.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOutsideURL accepts an absolute https URL, or http on a loopback
// host (development and tests): keys fetched over plain HTTP across a
// network could be swapped by anyone on the path.
func checkOutsideURL(raw string, allowQuery bool) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || len(raw) > maxURLLen || u.Host == "" || u.User != nil || u.Fragment != "" ||
		(!allowQuery && u.RawQuery != "") {
		return fmt.Errorf("%q is not an absolute URL of at most %d characters without credentials or fragment", raw, maxURLLen)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https (plain http only on a loopback address)", raw)
}

// validateTrustedIssuer checks and normalises a trusted issuer. The issuer
// is kept exactly as given: it must equal the tokens' "iss" character for
// character (a trailing slash included). It returns the custom role names
// the mappings use, to be checked in the caller's transaction.
func validateTrustedIssuer(in TrustedIssuer) (TrustedIssuer, []string, error) {
	out := TrustedIssuer{Issuer: in.Issuer, JWKSURL: strings.TrimSpace(in.JWKSURL), Audience: strings.TrimSpace(in.Audience), Mappings: []Mapping{}}
	if err := checkOutsideURL(out.Issuer, false); err != nil {
		return TrustedIssuer{}, nil, apperr.Field("/issuer", "The issuer %s.", trimErr(err))
	}
	if out.JWKSURL != "" {
		if err := checkOutsideURL(out.JWKSURL, true); err != nil {
			return TrustedIssuer{}, nil, apperr.Field("/jwks_url", "The JWKS URL %s.", trimErr(err))
		}
	}
	if out.Audience == "" || len(out.Audience) > maxURLLen || !printable(out.Audience) {
		return TrustedIssuer{}, nil, apperr.Field("/audience", "The audience (the \"aud\" the issuer puts in tokens for this API) is required: at most %d printable characters.", maxURLLen)
	}
	if len(in.Mappings) > maxMappings {
		return TrustedIssuer{}, nil, apperr.Field("/mappings", "At most %d mappings.", maxMappings)
	}
	var custom []string
	for i, m := range in.Mappings {
		ptr := fmt.Sprintf("/mappings/%d", i)
		m.ClientID, m.Claim = strings.TrimSpace(m.ClientID), strings.TrimSpace(m.Claim)
		switch {
		case m.ClientID != "" && (m.Claim != "" || m.Value != ""):
			return TrustedIssuer{}, nil, apperr.Field(ptr, "A mapping matches either a client_id or a claim and value, not both.")
		case m.ClientID != "":
			if len(m.ClientID) > maxClaimValueLen || !printable(m.ClientID) {
				return TrustedIssuer{}, nil, apperr.Field(ptr+"/client_id", "The client_id must be at most %d printable characters.", maxClaimValueLen)
			}
		case m.Claim != "":
			if len(m.Claim) > maxClaimNameLen || !printable(m.Claim) {
				return TrustedIssuer{}, nil, apperr.Field(ptr+"/claim", "The claim name must be at most %d printable characters.", maxClaimNameLen)
			}
			if m.Value == "" || len(m.Value) > maxClaimValueLen || !utf8.ValidString(m.Value) {
				return TrustedIssuer{}, nil, apperr.Field(ptr+"/value", "A claim mapping needs a value of at most %d characters.", maxClaimValueLen)
			}
		default:
			return TrustedIssuer{}, nil, apperr.Field(ptr, "A mapping needs a client_id, or a claim and a value, to match.")
		}
		roleList := []string{}
		for _, r := range m.Roles {
			r = strings.TrimSpace(r)
			if !isBuiltinRole(r) {
				if checkRoleName(r) != nil {
					_, err := ScopesFor([]string{r})
					return TrustedIssuer{}, nil, apperr.As(err).WithFields(apperr.FieldError{Pointer: ptr + "/roles", Detail: apperr.As(err).Message})
				}
				custom = appendUnique(custom, r)
			}
			roleList = appendUnique(roleList, r)
		}
		if len(roleList) == 0 {
			return TrustedIssuer{}, nil, apperr.Field(ptr+"/roles", "A mapping needs at least one role.")
		}
		companies, err := checkCompanies(m.Companies, ptr+"/companies")
		if err != nil {
			return TrustedIssuer{}, nil, err
		}
		out.Mappings = append(out.Mappings, Mapping{ClientID: m.ClientID, Claim: m.Claim, Value: m.Value, Roles: roleList, Companies: companies})
	}
	return out, custom, nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// trimErr makes an error's text fit after "The issuer …".
func trimErr(err error) string { return strings.TrimSuffix(err.Error(), ".") }

// CreateTrustedIssuer trusts an outside issuer. A duplicate is a Conflict.
func CreateTrustedIssuer(ctx context.Context, d *db.DB, in TrustedIssuer) (TrustedIssuer, error) {
	ti, custom, err := validateTrustedIssuer(in)
	if err != nil {
		return TrustedIssuer{}, err
	}
	mappingsJSON, err := json.Marshal(ti.Mappings)
	if err != nil {
		return TrustedIssuer{}, fmt.Errorf("create trusted issuer: %w", err)
	}
	err = d.Transact(ctx, func(tx *db.Tx) error {
		if err := requireCustomRoles(ctx, tx, custom, "/mappings"); err != nil {
			return err
		}
		ti.CreatedAt = tx.Now().Truncate(time.Microsecond)
		ti.UpdatedAt = ti.CreatedAt
		if _, err := tx.ExecContext(ctx, `INSERT INTO trusted_issuers (issuer, jwks_url, audience, mappings, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)`, ti.Issuer, ti.JWKSURL, ti.Audience, string(mappingsJSON), ti.CreatedAt); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "The issuer %s is already trusted; update it instead.", ti.Issuer)
			}
			return fmt.Errorf("insert trusted issuer: %w", err)
		}
		tx.Notify(TrustedIssuersChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{
			Action: "trusted_issuer.create", ResourceType: "trusted_issuer", ResourceID: ti.Issuer,
			Details: map[string]any{"audience": ti.Audience, "jwks_url": ti.JWKSURL, "mappings": ti.Mappings},
		})
	})
	if err != nil {
		return TrustedIssuer{}, fmt.Errorf("trust issuer %s: %w", ti.Issuer, err)
	}
	return ti, nil
}

// UpdateTrustedIssuer replaces an issuer's JWKS URL, audience and
// mappings. An unknown issuer is NotFound.
func UpdateTrustedIssuer(ctx context.Context, d *db.DB, in TrustedIssuer) (TrustedIssuer, error) {
	ti, custom, err := validateTrustedIssuer(in)
	if err != nil {
		return TrustedIssuer{}, err
	}
	mappingsJSON, err := json.Marshal(ti.Mappings)
	if err != nil {
		return TrustedIssuer{}, fmt.Errorf("update trusted issuer: %w", err)
	}
	err = d.Transact(ctx, func(tx *db.Tx) error {
		old, err := findTrustedIssuer(ctx, tx, ti.Issuer, lockUpdate)
		if err != nil {
			return err
		}
		if err := requireCustomRoles(ctx, tx, custom, "/mappings"); err != nil {
			return err
		}
		ti.CreatedAt = old.CreatedAt
		ti.UpdatedAt = tx.Now().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, `UPDATE trusted_issuers SET jwks_url = $1, audience = $2, mappings = $3, updated_at = $4
WHERE issuer = $5`, ti.JWKSURL, ti.Audience, string(mappingsJSON), ti.UpdatedAt, ti.Issuer); err != nil {
			return fmt.Errorf("update trusted issuer: %w", err)
		}
		tx.Notify(TrustedIssuersChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{
			Action: "trusted_issuer.update", ResourceType: "trusted_issuer", ResourceID: ti.Issuer,
			Details: map[string]any{"audience": ti.Audience, "jwks_url": ti.JWKSURL, "mappings": ti.Mappings},
		})
	})
	if err != nil {
		return TrustedIssuer{}, fmt.Errorf("update trusted issuer %s: %w", ti.Issuer, err)
	}
	return ti, nil
}

// DeleteTrustedIssuer stops trusting an issuer (unless it is also given in
// Options.TrustIssuers, which then has no mappings: every token is 403).
// An unknown issuer is NotFound.
func DeleteTrustedIssuer(ctx context.Context, d *db.DB, issuer string) error {
	err := d.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM trusted_issuers WHERE issuer = $1`, issuer)
		if err != nil {
			return fmt.Errorf("delete trusted issuer: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete trusted issuer: %w", err)
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "No trusted issuer %q.", issuer)
		}
		tx.Notify(TrustedIssuersChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{Action: "trusted_issuer.delete", ResourceType: "trusted_issuer", ResourceID: issuer})
	})
	if err != nil {
		return fmt.Errorf("delete trusted issuer %s: %w", issuer, err)
	}
	return nil
}

// ListTrustedIssuers returns the trusted issuers stored in the database,
// sorted by issuer.
func ListTrustedIssuers(ctx context.Context, q db.Querier) ([]TrustedIssuer, error) {
	rows, err := q.QueryContext(ctx, `SELECT issuer, jwks_url, audience, mappings, created_at, updated_at FROM trusted_issuers ORDER BY issuer`)
	if err != nil {
		return nil, fmt.Errorf("list trusted issuers: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (TrustedIssuer, error) { return scanTrustedIssuer(rows) })
	if err != nil {
		return nil, fmt.Errorf("list trusted issuers: %w", err)
	}
	if out == nil {
		out = []TrustedIssuer{}
	}
	return out, nil
}

// FindTrustedIssuer returns one trusted issuer; an unknown one is NotFound.
func FindTrustedIssuer(ctx context.Context, q db.Querier, issuer string) (TrustedIssuer, error) {
	return findTrustedIssuer(ctx, q, issuer, lockNone)
}

func findTrustedIssuer(ctx context.Context, q db.Querier, issuer string, mode lockMode) (TrustedIssuer, error) {
	row := q.QueryRowContext(ctx, `SELECT issuer, jwks_url, audience, mappings, created_at, updated_at FROM trusted_issuers
WHERE issuer = $1`+lockClause(q, mode), issuer)
	ti, err := scanTrustedIssuer(row)
	if errors.Is(err, sql.ErrNoRows) {
		return TrustedIssuer{}, apperr.New(apperr.NotFound, "No trusted issuer %q.", issuer)
	}
	if err != nil {
		return TrustedIssuer{}, fmt.Errorf("find trusted issuer %s: %w", issuer, err)
	}
	return ti, nil
}

func scanTrustedIssuer(s scanner) (TrustedIssuer, error) {
	var ti TrustedIssuer
	var mappingsJSON string
	if err := s.Scan(&ti.Issuer, &ti.JWKSURL, &ti.Audience, &mappingsJSON, &ti.CreatedAt, &ti.UpdatedAt); err != nil {
		return TrustedIssuer{}, err
	}
	if err := json.Unmarshal([]byte(mappingsJSON), &ti.Mappings); err != nil {
		return TrustedIssuer{}, fmt.Errorf("trusted issuer %s: mappings: %w", ti.Issuer, err)
	}
	if ti.Mappings == nil {
		ti.Mappings = []Mapping{}
	}
	ti.CreatedAt, ti.UpdatedAt = ti.CreatedAt.UTC(), ti.UpdatedAt.UTC()
	return ti, nil
}
