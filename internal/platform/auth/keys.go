package auth

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Algorithm is the only JWS algorithm Mainstay signs or accepts.
const Algorithm = "EdDSA"

// How often a node rereads the keys. Signing picks up another node's
// rotation within refreshEvery; verification rereads at once on an
// unknown kid, but at most every missReloadEvery, so tokens with made-up
// kids cannot turn into a query each.
const (
	refreshEvery    = time.Minute
	missReloadEvery = time.Second
)

// signingKey is one key of the keyset.
type signingKey struct {
	kid        string
	generation int64
	createdAt  time.Time
	private    ed25519.PrivateKey
	public     ed25519.PublicKey
}

// keyset is a node's in-memory copy of the unretired signing keys. The
// database is the truth: every node signs with the newest unretired key
// and verifies with any unretired key.
type keyset struct {
	d *db.DB

	// changed is signalled when a rotation commits through the same
	// *db.DB, so this node switches keys at once.
	changed <-chan struct{}

	// now and retireAfter drive automatic retirement: on each load, keys
	// rotated out more than retireAfter ago are retired (0: never).
	now         func() time.Time
	retireAfter time.Duration

	mu       sync.Mutex
	keys     map[string]*signingKey
	current  *signingKey
	loadedAt time.Time // monotonic, for refreshEvery
	missAt   time.Time // last reload caused by an unknown kid
}

// KeysChangedTopic is notified when a signing key is created or rotated.
const KeysChangedTopic = "auth.signing_keys"

func newKeyset(d *db.DB) *keyset {
	return &keyset{d: d, changed: d.Subscribe(KeysChangedTopic), now: time.Now}
}

// loadIfStaleLocked rereads the keys on first use, after a local rotation,
// and every refreshEvery.
func (k *keyset) loadIfStaleLocked(ctx context.Context) error {
	select {
	case <-k.changed:
		k.current = nil
	default:
	}
	if k.current != nil && time.Since(k.loadedAt) <= refreshEvery {
		return nil
	}
	return k.reloadLocked(ctx)
}

// signer returns the key to sign with, loading (and on a fresh database
// creating) the keys on first use.
func (k *keyset) signer(ctx context.Context) (*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadIfStaleLocked(ctx); err != nil {
		return nil, err
	}
	return k.current, nil
}

// verifier returns the public key of kid, rereading the keys once if the
// kid is new to this node (another node rotated).
func (k *keyset) verifier(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadIfStaleLocked(ctx); err != nil {
		return nil, err
	}
	if key, ok := k.keys[kid]; ok {
		return key.public, nil
	}
	if !k.missAt.IsZero() && time.Since(k.missAt) < missReloadEvery {
		return nil, errUnknownKey
	}
	k.missAt = time.Now()
	if err := k.reloadLocked(ctx); err != nil {
		return nil, err
	}
	if key, ok := k.keys[kid]; ok {
		return key.public, nil
	}
	return nil, errUnknownKey
}

// public returns the unretired keys, oldest first, for the JWKS.
func (k *keyset) public(ctx context.Context) ([]*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadIfStaleLocked(ctx); err != nil {
		return nil, err
	}
	out := make([]*signingKey, 0, len(k.keys))
	for _, key := range k.keys {
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b *signingKey) int { return cmp.Compare(a.generation, b.generation) })
	return out, nil
}

var errUnknownKey = errors.New("unknown signing key")

// reloadLocked reads the unretired keys, creating the first one if there
// is none. The lock is held across the query on purpose: concurrent
// requests wait for one load instead of each running it.
func (k *keyset) reloadLocked(ctx context.Context) error {
	keys, err := loadKeys(ctx, k.d)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		if err := ensureActiveKey(ctx, k.d); err != nil {
			return err
		}
		if keys, err = loadKeys(ctx, k.d.Write()); err != nil {
			return err
		}
		if len(keys) == 0 {
			return errors.New("load signing keys: none after creating one")
		}
	}
	if k.retireDue(keys) {
		// Best effort: a key that stays a while longer only verifies
		// tokens that have expired anyway.
		if _, err := retireKeys(ctx, k.d, k.now().UTC(), k.retireAfter); err == nil {
			if again, err := loadKeys(ctx, k.d.Write()); err == nil && len(again) > 0 {
				keys = again
			}
		}
	}
	k.keys = make(map[string]*signingKey, len(keys))
	for _, key := range keys {
		k.keys[key.kid] = key
	}
	k.current = keys[len(keys)-1]
	k.loadedAt = time.Now()
	return nil
}

// loadKeys returns the unretired keys, oldest generation first.
func loadKeys(ctx context.Context, q db.Querier) ([]*signingKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, generation, algorithm, private_key, created_at FROM signing_keys
WHERE retired_at IS NULL ORDER BY generation`)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	defer rows.Close()
	var out []*signingKey
	for rows.Next() {
		var kid, alg, pemText string
		var gen int64
		var created time.Time
		if err := rows.Scan(&kid, &gen, &alg, &pemText, &created); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
		if alg != Algorithm {
			// A newer binary's key type: skip it rather than fail, this
			// binary cannot use it.
			continue
		}
		priv, err := parsePrivateKey(pemText)
		if err != nil {
			return nil, fmt.Errorf("load signing key %s: %w", kid, err)
		}
		out = append(out, &signingKey{kid: kid, generation: gen, createdAt: created.UTC(), private: priv, public: priv.Public().(ed25519.PublicKey)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return out, nil
}

// ensureActiveKey creates a key if no unretired key exists. Nodes starting
// together on an empty database all try; the statement inserts only when
// there is no unretired key, and the unique generation makes a concurrent
// insert of the same generation a no-op, so exactly one key results on
// both engines (PostgreSQL waits on the unique index for the other
// transaction and then does nothing; SQLite has one writer).
func ensureActiveKey(ctx context.Context, d *db.DB) error {
	key, pemText, err := generateKey()
	if err != nil {
		return err
	}
	return d.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, generation, algorithm, private_key, created_at)
SELECT $1, m.g, $2, $3, $4 FROM (SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM signing_keys) AS m
WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)
ON CONFLICT (generation) DO NOTHING`, key.kid, Algorithm, pemText, tx.Now())
		if err != nil {
			return fmt.Errorf("create signing key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("create signing key: %w", err)
		}
		if n == 0 {
			return nil // another node made it
		}
		tx.Notify(KeysChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{Action: "signing_key.create", ResourceType: "signing_key", ResourceID: key.kid})
	})
}

// RotateKey creates a new signing key, which every node signs with from
// its next reload (within a minute). Older keys keep verifying, and stay
// in the JWKS, until they are retired once their last token has expired
// (see RetireKeys; servers also do it as they reload), so tokens already
// issued stay valid. It returns the new key's ID.
func RotateKey(ctx context.Context, d *db.DB) (string, error) {
	key, pemText, err := generateKey()
	if err != nil {
		return "", err
	}
	// Two rotations at once compute the same next generation; the loser
	// inserts nothing and tries again with a fresh look at the table.
	for range 10 {
		inserted := false
		err := d.Transact(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, generation, algorithm, private_key, created_at)
SELECT $1, m.g, $2, $3, $4 FROM (SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM signing_keys) AS m
WHERE true
ON CONFLICT (generation) DO NOTHING`, key.kid, Algorithm, pemText, tx.Now())
			if err != nil {
				return fmt.Errorf("rotate signing key: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil || n == 0 {
				return err
			}
			inserted = true
			tx.Notify(KeysChangedTopic)
			return audit.Record(ctx, tx, audit.Entry{Action: "signing_key.rotate", ResourceType: "signing_key", ResourceID: key.kid})
		})
		if err != nil {
			return "", err
		}
		if inserted {
			return key.kid, nil
		}
	}
	return "", errors.New("rotate signing key: too many concurrent rotations")
}

// retireDue reports whether a loaded key (oldest first) was rotated out,
// that is, its successor created, more than retireAfter ago.
func (k *keyset) retireDue(keys []*signingKey) bool {
	if k.retireAfter <= 0 {
		return false
	}
	cutoff := k.now().Add(-k.retireAfter)
	for i := 0; i+1 < len(keys); i++ {
		if !keys[i+1].createdAt.After(cutoff) {
			return true
		}
	}
	return false
}

// retireAfter is how long after a rotation the old key is retired: a node
// may go on signing with it until its next reload (refreshEvery), and its
// last token then lives TokenTTL, plus the leeway verifiers allow.
func (s *Server) retireAfter() time.Duration { return s.ttl + leeway + refreshEvery }

// RetireKeys retires the keys this server's tokens no longer need: those
// rotated out longer ago than the token lifetime (plus the reload
// interval and leeway). Retired keys leave the JWKS, and tokens they
// signed fail. Servers also do this on their own as they reload keys
// (every minute); this is for a command or a test. It returns the kids
// retired.
func (s *Server) RetireKeys(ctx context.Context) ([]string, error) {
	return retireKeys(ctx, s.db, s.clock.Now().UTC(), s.retireAfter())
}

// RetireKeys retires every signing key whose successor was created more
// than olderThan ago, by the database's clock. Pass at least the token
// lifetime plus two minutes: tokens signed by a retired key stop
// verifying. The newest key is never retired. It returns the kids
// retired.
func RetireKeys(ctx context.Context, d *db.DB, olderThan time.Duration) ([]string, error) {
	if olderThan < 0 {
		return nil, errors.New("retire signing keys: negative age")
	}
	return retireKeys(ctx, d, d.Now().UTC(), olderThan)
}

// retireKeys marks the keys retired and erases their private halves: a
// retired key must never sign again, so there is no reason to keep it.
func retireKeys(ctx context.Context, d *db.DB, now time.Time, olderThan time.Duration) ([]string, error) {
	var kids []string
	err := d.Transact(ctx, func(tx *db.Tx) error {
		kids = kids[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE signing_keys SET retired_at = $1, private_key = ''
WHERE retired_at IS NULL AND EXISTS (
  SELECT 1 FROM signing_keys AS successor
  WHERE successor.generation > signing_keys.generation AND successor.created_at <= $2)
RETURNING kid`, now, now.Add(-olderThan))
		if err != nil {
			return fmt.Errorf("retire signing keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var kid string
			if err := rows.Scan(&kid); err != nil {
				return fmt.Errorf("retire signing keys: %w", err)
			}
			kids = append(kids, kid)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("retire signing keys: %w", err)
		}
		rows.Close()
		if len(kids) == 0 {
			return nil
		}
		tx.Notify(KeysChangedTopic)
		for _, kid := range kids {
			if err := audit.Record(ctx, tx, audit.Entry{Action: "signing_key.retire", ResourceType: "signing_key", ResourceID: kid}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(kids)
	return kids, nil
}

// generateKey makes a new Ed25519 key and its PKCS#8 PEM form.
//
// The private key is stored in clear in the database for now; encrypting
// it at rest (envelope keys, platform/crypto) comes in a later issue.
func generateKey() (*signingKey, string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("encode signing key: %w", err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return &signingKey{kid: thumbprint(pub), private: priv, public: pub}, pemText, nil
}

func parsePrivateKey(pemText string) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PKCS#8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not Ed25519", k)
	}
	return priv, nil
}

// thumbprint is the key's RFC 7638 JWK thumbprint, used as its kid: it is
// derived from the public key, so it never collides by accident and any
// holder of the JWKS can recompute it.
func thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no spaces, as RFC 7638 §3.2 requires.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// jwk is the public JSON Web Key (RFC 8037) of an Ed25519 key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func (k *signingKey) jwk() jwk {
	return jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.public), Kid: k.kid, Alg: Algorithm, Use: "sig"}
}
