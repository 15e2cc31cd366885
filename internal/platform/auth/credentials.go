package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// MaxSecretOverlap bounds how long a rotated-out secret may keep working:
// long enough to redeploy every instance of a client, short enough that a
// leaked secret being rotated away does not linger.
const MaxSecretOverlap = 30 * 24 * time.Hour

// maxClientKeys bounds the keys of one client: two or three during a key
// rotation is normal, dozens is a mistake (and costs a verify each).
const maxClientKeys = 10

// credentials are what authenticating a client needs and nothing else
// does: the secret hashes and the public keys.
type credentials struct {
	hash         string
	previousHash string
	previousTill sql.NullTime
}

// findClientCredentials returns the client and its stored secret hashes.
func findClientCredentials(ctx context.Context, q db.Querier, clientID string) (Client, credentials, error) {
	var cr credentials
	row := q.QueryRowContext(ctx, `SELECT id, name, roles, companies, created_at, revoked_at,
secret_hash, previous_secret_hash, previous_secret_expires_at FROM oauth_clients WHERE id = $1`, clientID)
	c, err := scanClientWith(row, &cr.hash, &cr.previousHash, &cr.previousTill)
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, credentials{}, apperr.New(apperr.NotFound, "No client %q.", clientID)
	}
	if err != nil {
		return Client{}, credentials{}, fmt.Errorf("find client %s: %w", clientID, err)
	}
	return c, cr, nil
}

// secretResult says which of a client's secrets matched.
type secretResult int

const (
	secretWrong secretResult = iota
	secretCurrent
	secretPrevious // the rotated-out one, inside its overlap window
)

// match compares secret with both stored hashes. Both comparisons always
// run, so the time taken does not tell which one matched.
func (cr credentials) match(secret string, now time.Time) secretResult {
	current := secretMatches(secret, cr.hash)
	previous := secretMatches(secret, cr.previousHash)
	switch {
	case current:
		return secretCurrent
	case previous && cr.previousTill.Valid && now.Before(cr.previousTill.Time):
		return secretPrevious
	}
	return secretWrong
}

// RotateSecret gives a client a new secret and returns it (shown once,
// stored as a hash). The old secret keeps working for overlap (0: it stops
// at once), so every instance of the client can be moved to the new one
// without an outage; only one old secret is kept, so rotating again within
// the window ends the older one. A client made without a secret gets one.
// A revoked client is a Conflict, an unknown one NotFound.
func RotateSecret(ctx context.Context, d *db.DB, clientID string, overlap time.Duration) (string, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return "", apperr.Field("/overlap", "The overlap must be between 0 and %s.", MaxSecretOverlap)
	}
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	err = d.Transact(ctx, func(tx *db.Tx) error {
		var oldHash string
		var revoked sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT secret_hash, revoked_at FROM oauth_clients WHERE id = $1`+lockClause(tx, lockUpdate), clientID).
			Scan(&oldHash, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "No client %q.", clientID)
		}
		if err != nil {
			return fmt.Errorf("read client: %w", err)
		}
		if revoked.Valid {
			return apperr.New(apperr.Conflict, "The client %s is revoked; a revoked client cannot get a new secret.", clientID)
		}
		details := map[string]any{"overlap_seconds": int64(overlap / time.Second)}
		var till sql.NullTime
		if overlap > 0 && oldHash != "" {
			till = sql.NullTime{Time: tx.Now().Add(overlap), Valid: true}
			details["previous_valid_until"] = till.Time.Format(time.RFC3339)
		} else {
			oldHash = ""
		}
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET secret_hash = $1, previous_secret_hash = $2,
previous_secret_expires_at = $3 WHERE id = $4`, hashSecret(secret), oldHash, till, clientID); err != nil {
			return fmt.Errorf("store secret: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{
			Action: "client.rotate_secret", ResourceType: "oauth_client", ResourceID: clientID, Details: details,
		})
	})
	if err != nil {
		return "", fmt.Errorf("rotate secret of %s: %w", clientID, err)
	}
	return secret, nil
}

// ClientKey is a public key registered for a client's private_key_jwt
// assertions.
type ClientKey struct {
	ClientID  string          `json:"client_id"`
	KeyID     string          `json:"kid"`
	Algorithm string          `json:"alg"`
	JWK       json.RawMessage `json:"jwk"` // public members only
	CreatedAt time.Time       `json:"created_at"`
}

// AddClientKey registers a public key (Ed25519 or ECDSA P-256, as a PEM
// "PUBLIC KEY" block or a JWK) that the client may sign private_key_jwt
// assertions with. To rotate a key, add the new one, move the client over,
// then RemoveClientKey the old one. The kid is the JWK's own, else its RFC
// 7638 thumbprint.
func AddClientKey(ctx context.Context, d *db.DB, clientID, publicKey string) (ClientKey, error) {
	key, canon, err := parseClientKey(publicKey)
	if err != nil {
		return ClientKey{}, apperr.Field("/public_key", "The public key is not usable: %s.", err)
	}
	jwkJSON, err := json.Marshal(canon)
	if err != nil {
		return ClientKey{}, fmt.Errorf("add client key: %w", err)
	}
	var out ClientKey
	err = d.Transact(ctx, func(tx *db.Tx) error {
		var revoked sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM oauth_clients WHERE id = $1`+lockClause(tx, lockUpdate), clientID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "No client %q.", clientID)
		}
		if err != nil {
			return fmt.Errorf("read client: %w", err)
		}
		if revoked.Valid {
			return apperr.New(apperr.Conflict, "The client %s is revoked.", clientID)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_client_keys WHERE client_id = $1`, clientID).Scan(&n); err != nil {
			return fmt.Errorf("count client keys: %w", err)
		}
		if n >= maxClientKeys {
			return apperr.New(apperr.Conflict, "The client already has %d keys; remove one first.", n)
		}
		if err := insertClientKey(ctx, tx, clientID, key, jwkJSON); err != nil {
			return err
		}
		out = ClientKey{ClientID: clientID, KeyID: key.kid, Algorithm: key.alg, JWK: jwkJSON, CreatedAt: tx.Now().Truncate(time.Microsecond)}
		return audit.Record(ctx, tx, audit.Entry{
			Action: "client.key_add", ResourceType: "oauth_client", ResourceID: clientID,
			Details: map[string]any{"key_id": key.kid, "alg": key.alg},
		})
	})
	if err != nil {
		return ClientKey{}, fmt.Errorf("add key to client %s: %w", clientID, err)
	}
	return out, nil
}

func insertClientKey(ctx context.Context, tx *db.Tx, clientID string, key verifyKey, jwkJSON []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO oauth_client_keys (client_id, kid, algorithm, public_key, created_at)
VALUES ($1, $2, $3, $4, $5)`, clientID, key.kid, key.alg, string(jwkJSON), tx.Now().Truncate(time.Microsecond))
	if db.IsUniqueViolation(err) {
		return apperr.New(apperr.Conflict, "The client already has a key with kid %q.", key.kid)
	}
	if err != nil {
		return fmt.Errorf("insert client key: %w", err)
	}
	return nil
}

// RemoveClientKey removes one of a client's keys; assertions signed with
// it are refused from then on. An unknown key is NotFound.
func RemoveClientKey(ctx context.Context, d *db.DB, clientID, kid string) error {
	err := d.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_client_keys WHERE client_id = $1 AND kid = $2`, clientID, kid)
		if err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete client key: %w", err)
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "The client %s has no key %q.", clientID, kid)
		}
		return audit.Record(ctx, tx, audit.Entry{
			Action: "client.key_remove", ResourceType: "oauth_client", ResourceID: clientID,
			Details: map[string]any{"key_id": kid},
		})
	})
	if err != nil {
		return fmt.Errorf("remove key of client %s: %w", clientID, err)
	}
	return nil
}

// ListClientKeys returns a client's public keys, oldest first.
func ListClientKeys(ctx context.Context, q db.Querier, clientID string) ([]ClientKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, algorithm, public_key, created_at FROM oauth_client_keys
WHERE client_id = $1 ORDER BY created_at, kid`, clientID)
	if err != nil {
		return nil, fmt.Errorf("list client keys: %w", err)
	}
	defer rows.Close()
	out := []ClientKey{}
	for rows.Next() {
		k := ClientKey{ClientID: clientID}
		var jwkText string
		if err := rows.Scan(&k.KeyID, &k.Algorithm, &jwkText, &k.CreatedAt); err != nil {
			return nil, fmt.Errorf("list client keys: %w", err)
		}
		k.JWK, k.CreatedAt = json.RawMessage(jwkText), k.CreatedAt.UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list client keys: %w", err)
	}
	return out, nil
}

// clientVerifyKeys returns a client's keys ready to verify with. A stored
// key this binary cannot read is skipped, not fatal: the client's other
// keys still work.
func clientVerifyKeys(ctx context.Context, q db.Querier, clientID string) ([]verifyKey, error) {
	list, err := ListClientKeys(ctx, q, clientID)
	if err != nil {
		return nil, err
	}
	out := make([]verifyKey, 0, len(list))
	for _, k := range list {
		var j jsonWebKey
		if json.Unmarshal(k.JWK, &j) != nil {
			continue
		}
		vk, err := parseJWK(j, false)
		if err != nil {
			continue
		}
		out = append(out, vk)
	}
	return out, nil
}
