package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// ClientIDPrefix prefixes client IDs ("cli_…").
const ClientIDPrefix = "cli"

// SecretPrefix starts every client secret, so a secret pasted into a
// repository or a log is found by a plain search (and by secret scanners).
const SecretPrefix = "mss_"

// Limits on what a client record may hold; generous, but bounded.
const (
	maxNameLen      = 200
	maxCompanies    = 1000
	maxCompanyIDLen = 100
)

// Client is a machine client of the API. Its secret is never kept: only a
// hash of it, which is not part of this type.
type Client struct {
	ID        string
	Name      string
	Roles     []string
	Companies []string // empty: every company
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Revoked reports whether the client has been revoked.
func (c Client) Revoked() bool { return c.RevokedAt != nil }

// NewClient is what CreateClient needs.
type NewClient struct {
	Name      string
	Roles     []string // built-in or custom roles
	Companies []string // empty: every company
	// PublicKey, if set, registers a key the client signs private_key_jwt
	// assertions with (RFC 7523): an Ed25519 or ECDSA P-256 public key as a
	// PEM "PUBLIC KEY" block or as a JWK. More keys: AddClientKey.
	PublicKey string
	// NoSecret makes a client that can authenticate only with its key:
	// CreateClient then returns no secret. It needs PublicKey.
	NoSecret bool
}

// CreateClient registers a client and returns it with its secret. The
// secret is shown to the caller once and stored only as a hash, so it
// cannot be recovered later: a lost secret is replaced with RotateSecret.
// A client made with NoSecret gets no secret ("").
func CreateClient(ctx context.Context, d *db.DB, in NewClient) (Client, string, error) {
	c, custom, err := validateNewClient(in)
	if err != nil {
		return Client{}, "", err
	}
	var keyJWK []byte
	var key verifyKey
	if strings.TrimSpace(in.PublicKey) != "" {
		var canon jsonWebKey
		if key, canon, err = parseClientKey(in.PublicKey); err != nil {
			return Client{}, "", apperr.Field("/public_key", "The public key is not usable: %s.", err)
		}
		if keyJWK, err = json.Marshal(canon); err != nil {
			return Client{}, "", fmt.Errorf("create client: %w", err)
		}
	} else if in.NoSecret {
		return Client{}, "", apperr.Field("/public_key", "A client without a secret needs a public key to authenticate with.")
	}
	// A client without a secret stores an empty hash, which no secret
	// matches (secretMatches wants 32 bytes).
	secret, hash := "", ""
	if !in.NoSecret {
		if secret, err = newSecret(); err != nil {
			return Client{}, "", err
		}
		hash = hashSecret(secret)
	}
	rolesJSON, err := json.Marshal(c.Roles)
	if err != nil {
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	companiesJSON, err := json.Marshal(c.Companies)
	if err != nil {
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	c.ID = id.New(ClientIDPrefix)
	err = d.Transact(ctx, func(tx *db.Tx) error {
		// Custom roles are checked in the transaction, locked, so that a
		// concurrent DeleteRole cannot remove one under the new client.
		if err := requireCustomRoles(ctx, tx, custom, "/roles"); err != nil {
			return err
		}
		// Microseconds: what PostgreSQL keeps, so the returned client equals
		// the stored one on both engines.
		c.CreatedAt = tx.Now().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_clients (id, name, secret_hash, roles, companies, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, c.Name, hash, string(rolesJSON), string(companiesJSON), c.CreatedAt); err != nil {
			return fmt.Errorf("insert client: %w", err)
		}
		details := map[string]any{"name": c.Name, "roles": c.Roles, "companies": c.Companies, "secret": !in.NoSecret}
		if keyJWK != nil {
			if err := insertClientKey(ctx, tx, c.ID, key, keyJWK); err != nil {
				return err
			}
			details["key_id"] = key.kid
		}
		// Names of roles and company IDs are not sensitive; the secret and
		// its hash never reach the log.
		return audit.Record(ctx, tx, audit.Entry{
			Action: "client.create", ResourceType: "oauth_client", ResourceID: c.ID, Details: details,
		})
	})
	if err != nil {
		return Client{}, "", fmt.Errorf("create client %q: %w", c.Name, err)
	}
	return c, secret, nil
}

// requireCustomRoles checks that the named custom roles exist, locking
// them against deletion until the transaction ends; a missing one is an
// Invalid error at pointer naming it.
func requireCustomRoles(ctx context.Context, tx *db.Tx, names []string, pointer string) error {
	if len(names) == 0 {
		return nil
	}
	found, err := customRoleScopes(ctx, tx, names, lockShare)
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, ok := found[name]; !ok {
			e := unknownRoleError(ctx, tx, name)
			return e.WithFields(apperr.FieldError{Pointer: pointer, Detail: e.Message})
		}
	}
	return nil
}

// validateNewClient checks and normalises the input: trimmed name, roles
// without duplicates, distinct company IDs. Built-in roles are checked
// here; it returns the other names, which must be custom roles (checked in
// the caller's transaction).
func validateNewClient(in NewClient) (Client, []string, error) {
	c := Client{Name: strings.TrimSpace(in.Name), Roles: []string{}, Companies: []string{}}
	switch {
	case c.Name == "":
		return Client{}, nil, apperr.Field("/name", "A client needs a name.")
	case !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > maxNameLen:
		return Client{}, nil, apperr.Field("/name", "The name must be valid text of at most %d characters.", maxNameLen)
	}
	var custom []string
	for _, r := range in.Roles {
		r = strings.TrimSpace(r)
		if !isBuiltinRole(r) {
			if checkRoleName(r) != nil {
				// Not even shaped like a role: no need to ask the database.
				_, err := ScopesFor([]string{r})
				return Client{}, nil, apperr.As(err).WithFields(apperr.FieldError{Pointer: "/roles", Detail: apperr.As(err).Message})
			}
			if !slices.Contains(custom, r) {
				custom = append(custom, r)
			}
		}
		if !slices.Contains(c.Roles, r) {
			c.Roles = append(c.Roles, r)
		}
	}
	if len(c.Roles) == 0 {
		return Client{}, nil, apperr.Field("/roles", "A client needs at least one role; the built-in roles are %s.", strings.Join(RoleNames(), ", "))
	}
	companies, err := checkCompanies(in.Companies, "/companies")
	if err != nil {
		return Client{}, nil, err
	}
	c.Companies = companies
	return c, custom, nil
}

// checkCompanies validates and deduplicates a list of company IDs. They
// are not checked against the companies table: the platform does not
// depend on that module, and a client may be set up before its company is
// created.
func checkCompanies(in []string, pointer string) ([]string, error) {
	out := []string{}
	if len(in) > maxCompanies {
		return nil, apperr.Field(pointer, "At most %d companies; leave the list empty for every company.", maxCompanies)
	}
	for _, co := range in {
		co = strings.TrimSpace(co)
		if co == "" || len(co) > maxCompanyIDLen || !printable(co) {
			return nil, apperr.Field(pointer, "Each company must be a company ID of at most %d printable characters.", maxCompanyIDLen)
		}
		if !slices.Contains(out, co) {
			out = append(out, co)
		}
	}
	return out, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// ListClients returns every client, revoked ones included, oldest first.
func ListClients(ctx context.Context, q db.Querier) ([]Client, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, roles, companies, created_at, revoked_at
FROM oauth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (Client, error) {
		c, _, err := scanClient(rows, false)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// FindClient returns one client, revoked or not; an unknown ID is NotFound.
func FindClient(ctx context.Context, q db.Querier, clientID string) (Client, error) {
	c, _, err := findClient(ctx, q, clientID)
	return c, err
}

// findClient also returns the stored secret hash, for authentication only.
func findClient(ctx context.Context, q db.Querier, clientID string) (Client, string, error) {
	row := q.QueryRowContext(ctx, `SELECT id, name, roles, companies, created_at, revoked_at, secret_hash
FROM oauth_clients WHERE id = $1`, clientID)
	c, hash, err := scanClient(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, "", apperr.New(apperr.NotFound, "No client %q.", clientID)
	}
	if err != nil {
		return Client{}, "", fmt.Errorf("find client %s: %w", clientID, err)
	}
	return c, hash, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanClient(s scanner, withHash bool) (Client, string, error) {
	var hash string
	var extra []any
	if withHash {
		extra = append(extra, &hash)
	}
	c, err := scanClientWith(s, extra...)
	return c, hash, err
}

// scanClientWith scans a client's columns (id, name, roles, companies,
// created_at, revoked_at) followed by the extra ones.
func scanClientWith(s scanner, extra ...any) (Client, error) {
	var c Client
	var rolesJSON, companiesJSON string
	var revoked sql.NullTime
	dest := append([]any{&c.ID, &c.Name, &rolesJSON, &companiesJSON, &c.CreatedAt, &revoked}, extra...)
	if err := s.Scan(dest...); err != nil {
		return Client{}, err
	}
	if err := json.Unmarshal([]byte(rolesJSON), &c.Roles); err != nil {
		return Client{}, fmt.Errorf("client %s: roles: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(companiesJSON), &c.Companies); err != nil {
		return Client{}, fmt.Errorf("client %s: companies: %w", c.ID, err)
	}
	if c.Companies == nil {
		c.Companies = []string{}
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if revoked.Valid {
		t := revoked.Time.UTC()
		c.RevokedAt = &t
	}
	return c, nil
}

// RevokeClientTopic is notified when a client is revoked, so that servers
// sharing the *db.DB drop their cached client checks at once; other nodes
// notice within the cache's lifetime.
const RevokeClientTopic = "auth.client_revoked"

// RevokeClient revokes a client: it can no longer get tokens, and the
// tokens it holds stop working within seconds. Revoking a revoked client
// changes nothing and is not an error; an unknown ID is NotFound.
func RevokeClient(ctx context.Context, d *db.DB, clientID string) error {
	err := d.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, tx.Now(), clientID)
		if err != nil {
			return fmt.Errorf("revoke client: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("revoke client: %w", err)
		}
		if n == 0 {
			// Either unknown or already revoked; only the first is an error.
			_, _, err := findClient(ctx, tx, clientID)
			return err
		}
		tx.Notify(RevokeClientTopic)
		return audit.Record(ctx, tx, audit.Entry{Action: "client.revoke", ResourceType: "oauth_client", ResourceID: clientID})
	})
	if err != nil {
		return fmt.Errorf("revoke client %s: %w", clientID, err)
	}
	return nil
}

// newSecret returns SecretPrefix + 256 random bits in unpadded base64url.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate client secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashSecret is the stored form of a secret. A plain SHA-256 is right for
// 256-bit random secrets (nothing to brute-force); slow password hashes
// are for human passwords.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretMatches compares a presented secret with a stored hash in constant
// time.
func secretMatches(secret, storedHash string) bool {
	want, err := hex.DecodeString(storedHash)
	got := sha256.Sum256([]byte(secret))
	if err != nil || len(want) != len(got) {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], want) == 1
}
