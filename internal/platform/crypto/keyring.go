package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Prefix starts every encrypted value: "enc:v1:<kid>:<base64url>".
const Prefix = "enc:v1:"

// CacheTTL bounds how long a node keeps using what it cached about a key:
// another node's RotateOwner is picked up for new values, and another
// node's DestroyOwner stops this node from decrypting, within CacheTTL.
// A rotation job waits this long between RotateOwner and Reencrypt so
// that no server is still writing with the old key.
const CacheTTL = time.Minute

const (
	defaultCacheSize   = 4096 // unwrapped keys held per node
	defaultRotateBatch = 200  // data keys re-wrapped per transaction
	// defaultLockWait bounds how long key creation outside a transaction
	// waits for SQLite's single write connection; see transact.
	defaultLockWait = 30 * time.Second

	kidPrefix = "dk"
	keySize   = 32
	nonceSize = 12 // AES-GCM's standard nonce
	tagSize   = 16
)

// Errors a caller may want to tell apart; all are wrapped with context.
var (
	// ErrDestroyed: the value's data key was destroyed (crypto-shredding),
	// so the value is erased. Show the field as erased. Encrypt returns it
	// for an owner whose keys were destroyed: an erased subject does not
	// silently get a new key.
	ErrDestroyed = errors.New("data key destroyed: the value is erased")
	// ErrUnknownKey: the value names a data key that does not exist.
	ErrUnknownKey = errors.New("unknown data key")
	// ErrNotEncrypted: the string is not an "enc:v1:" value.
	ErrNotEncrypted = errors.New("not an encrypted value")
	// ErrAuthentication: the ciphertext does not authenticate: it was
	// altered, or moved from another record or field.
	ErrAuthentication = errors.New("encrypted value does not authenticate (altered, or moved from another record or field)")
	// ErrMasterKey: a data key cannot be unwrapped with the master keys
	// this node has (wrong master key, or the key row was altered).
	ErrMasterKey = errors.New("master key cannot unwrap the data key")
)

// masterKey is a master key as the keyring uses it: never the raw key,
// only keys derived from it.
type masterKey struct {
	id    string      // fingerprint stored beside wrapped keys
	wrap  cipher.AEAD // seals data keys
	blind []byte      // blind-index HMAC key
}

func newMasterKey(master []byte) (*masterKey, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes; want %d", len(master), MasterKeySize)
	}
	wrap, err := newGCM(DeriveKey(master, purposeWrap))
	if err != nil {
		return nil, err
	}
	return &masterKey{id: masterID(master), wrap: wrap, blind: DeriveKey(master, PurposeBlindIndex)}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// dataKey is an unwrapped data key, or the memory of a destroyed one.
type dataKey struct {
	kid       string
	owner     string
	version   int64
	aead      cipher.AEAD // nil when destroyed
	destroyed bool
}

// Keyring encrypts and decrypts field values with per-owner data keys
// (envelope encryption). Data keys live in the data_keys table, wrapped
// under a key derived from the master key; the master key itself is never
// stored. A Keyring is safe for concurrent use; one per process.
type Keyring struct {
	d   *db.DB
	err error // a bad master key given to NewKeyring; every operation returns it

	now         func() time.Time // for cache expiry; tests move it
	rotateBatch int
	lockWait    time.Duration
	// reencryptHook runs between a Reencrypt batch's read and its write;
	// tests change rows there.
	reencryptHook func()

	mu       sync.Mutex
	master   *masterKey            // wraps new keys, computes blind indexes
	previous []*masterKey          // still unwrap; newest first
	masters  map[string]*masterKey // current and previous, by id
	keys     *lru[*dataKey]        // kid → key
	current  *lru[string]          // owner → kid of its current key
}

// NewKeyring returns a keyring over the data_keys table of d. master is the
// 32-byte master key (LoadMasterKey); previous master keys, if given, are
// used only to unwrap data keys not yet re-wrapped by RotateMaster. An
// invalid master key makes every operation fail with the reason, and
// Verify report it at start-up.
func NewKeyring(d *db.DB, master []byte, previous ...[]byte) *Keyring {
	k := &Keyring{
		d:           d,
		now:         time.Now,
		rotateBatch: defaultRotateBatch,
		lockWait:    defaultLockWait,
		masters:     map[string]*masterKey{},
		keys:        newLRU[*dataKey](defaultCacheSize, CacheTTL),
		current:     newLRU[string](defaultCacheSize, CacheTTL),
	}
	m, err := newMasterKey(master)
	if err != nil {
		k.err = fmt.Errorf("keyring: %w", err)
		return k
	}
	if d == nil {
		// Enough for BlindIndex, which needs no table.
		k.err = errors.New("keyring: no database")
	}
	k.master = m
	k.masters[m.id] = m
	for i, p := range previous {
		pm, err := newMasterKey(p)
		if err != nil {
			k.err = fmt.Errorf("keyring: previous master key %d: %w", i+1, err)
			return k
		}
		if _, dup := k.masters[pm.id]; !dup {
			k.masters[pm.id] = pm
			k.previous = append(k.previous, pm)
		}
	}
	return k
}

// MasterKeyID is the fingerprint of the current master key, as stored in
// data_keys.master_kid; it reveals nothing about the key.
func (k *Keyring) MasterKeyID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.master == nil {
		return ""
	}
	return k.master.id
}

// Encrypt seals plaintext with owner's current data key, creating the
// owner's first key if it has none, and returns "enc:v1:<kid>:<base64url
// of nonce‖ciphertext>". recordID and field are bound as associated data:
// the value decrypts only for the same record and field.
//
// Inside a transaction pass the transaction's context
// (db.ContextWithTx): creating a first key then joins it, which on SQLite,
// with its single write connection, is the only way it can proceed.
func (k *Keyring) Encrypt(ctx context.Context, owner, recordID, field, plaintext string) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	if owner == "" || recordID == "" || field == "" {
		return "", errors.New("encrypt: owner, record id and field are required")
	}
	dk, err := k.currentKey(ctx, owner)
	if err != nil {
		return "", fmt.Errorf("encrypt %s: %w", field, err)
	}
	return k.seal(dk, recordID, field, plaintext)
}

func (k *Keyring) seal(dk *dataKey, recordID, field, plaintext string) (string, error) {
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("encrypt %s: nonce: %w", field, err)
	}
	sealed := dk.aead.Seal(buf, buf, []byte(plaintext), valueAAD(recordID, field))
	var sb strings.Builder
	sb.Grow(len(Prefix) + len(dk.kid) + 1 + base64.RawURLEncoding.EncodedLen(len(sealed)))
	sb.WriteString(Prefix)
	sb.WriteString(dk.kid)
	sb.WriteByte(':')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(sealed))
	return sb.String(), nil
}

// Decrypt opens a value made by Encrypt for the same record and field. A
// value whose key was destroyed gives ErrDestroyed; an altered or moved
// value gives ErrAuthentication.
func (k *Keyring) Decrypt(ctx context.Context, recordID, field, value string) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	kid, sealed, err := parseValue(value)
	if err != nil {
		return "", fmt.Errorf("decrypt %s: %w", field, err)
	}
	dk, err := k.keyByKid(ctx, kid)
	if err != nil {
		return "", fmt.Errorf("decrypt %s: %w", field, err)
	}
	plain, err := openValue(dk, recordID, field, sealed)
	if err != nil {
		return "", fmt.Errorf("decrypt %s: %w", field, err)
	}
	return plain, nil
}

func openValue(dk *dataKey, recordID, field string, sealed []byte) (string, error) {
	if dk.destroyed {
		return "", ErrDestroyed
	}
	if len(sealed) < nonceSize+tagSize {
		return "", ErrAuthentication
	}
	plain, err := dk.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], valueAAD(recordID, field))
	if err != nil {
		return "", ErrAuthentication
	}
	return string(plain), nil
}

// IsEncrypted reports whether s has the form of a value made by Encrypt
// ("enc:v1:<kid>:<base64url>"); it does not check that it decrypts.
func IsEncrypted(s string) bool {
	_, _, err := parseValue(s)
	return err == nil
}

// KeyID returns the kid an encrypted value names.
func KeyID(value string) (string, error) {
	kid, _, err := parseValue(value)
	return kid, err
}

// parseValue splits "enc:v1:<kid>:<base64url>". Kids are ids of the id
// package (lower-case base32 and an underscore), so the first colon after
// the prefix ends the kid.
func parseValue(s string) (kid string, sealed []byte, err error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return "", nil, ErrNotEncrypted
	}
	kid, payload, ok := strings.Cut(rest, ":")
	if !ok || !validKid(kid) || payload == "" {
		return "", nil, fmt.Errorf("%w: malformed enc:v1 value", ErrNotEncrypted)
	}
	sealed, err = base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, fmt.Errorf("%w: malformed enc:v1 payload", ErrNotEncrypted)
	}
	return kid, sealed, nil
}

func validKid(kid string) bool {
	if kid == "" || len(kid) > 64 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// valueAAD binds a value to its record and field. Each part is length
// prefixed, so ("ab", "c") and ("a", "bc") differ, and a domain label keeps
// these bytes from ever meaning anything else.
func valueAAD(recordID, field string) []byte {
	b := make([]byte, 0, 24+len(recordID)+len(field))
	b = append(b, "mainstay/field/v1"...)
	b = appendLP(b, recordID)
	return appendLP(b, field)
}

// wrapAAD binds a wrapped data key to its kid and owner, so a key row
// cannot be copied to another kid or owner.
func wrapAAD(kid, owner string) []byte {
	b := make([]byte, 0, 28+len(kid)+len(owner))
	b = append(b, "mainstay/data-key/v1"...)
	b = appendLP(b, kid)
	return appendLP(b, owner)
}

func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// keyRow is a data_keys row.
type keyRow struct {
	kid, owner, masterKid string
	version               int64
	wrapped               []byte
	destroyed             bool
}

const keyColumns = "kid, owner, version, master_kid, wrapped, CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END"

func scanKey(sc interface{ Scan(...any) error }) (keyRow, error) {
	var r keyRow
	var destroyed int
	err := sc.Scan(&r.kid, &r.owner, &r.version, &r.masterKid, &r.wrapped, &destroyed)
	r.destroyed = destroyed != 0
	return r, err
}

// latestKey reads the owner's highest version, its current key (or, when
// destroyed, the mark that the owner was erased).
func latestKey(ctx context.Context, q db.Querier, owner string) (keyRow, bool, error) {
	r, err := scanKey(q.QueryRowContext(ctx,
		"SELECT "+keyColumns+" FROM data_keys WHERE owner = $1 ORDER BY version DESC LIMIT 1", owner))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read data key of %s: %w", owner, err)
	}
	return r, true, nil
}

// keyByKid returns the key a value names, from the cache or the table.
func (k *Keyring) keyByKid(ctx context.Context, kid string) (*dataKey, error) {
	k.mu.Lock()
	dk, ok := k.keys.get(kid, k.now())
	k.mu.Unlock()
	if ok {
		return dk, nil
	}
	q := k.d.Reader(ctx)
	r, err := scanKey(q.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM data_keys WHERE kid = $1", kid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w %s", ErrUnknownKey, kid)
	}
	if err != nil {
		return nil, fmt.Errorf("read data key %s: %w", kid, err)
	}
	dk, err = k.unwrap(r)
	if err != nil {
		return nil, err
	}
	k.remember(q, dk, false)
	return dk, nil
}

// Preload reads, in one query per 500 keys, the data keys of the given
// encrypted values that this node has not cached, so that decrypting a
// page of records whose values have keys of their own costs one round trip
// rather than one per record. Strings that are not encrypted values are
// ignored; so are unknown kids, which Decrypt then reports.
func (k *Keyring) Preload(ctx context.Context, values ...string) error {
	if k.err != nil {
		return k.err
	}
	seen := map[string]bool{}
	var kids []string
	k.mu.Lock()
	now := k.now()
	for _, v := range values {
		rest, ok := strings.CutPrefix(v, Prefix)
		if !ok {
			continue
		}
		kid, _, ok := strings.Cut(rest, ":")
		if !ok || !validKid(kid) || seen[kid] {
			continue
		}
		seen[kid] = true
		if _, ok := k.keys.get(kid, now); !ok {
			kids = append(kids, kid)
		}
	}
	k.mu.Unlock()
	q := k.d.Reader(ctx)
	for len(kids) > 0 {
		chunk := kids[:min(len(kids), 500)]
		kids = kids[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, kid := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+1)
			args[i] = kid
		}
		rows, err := q.QueryContext(ctx, "SELECT "+keyColumns+" FROM data_keys WHERE kid IN ("+strings.Join(marks, ", ")+")", args...)
		if err != nil {
			return fmt.Errorf("preload data keys: %w", err)
		}
		var found []keyRow
		for rows.Next() {
			r, err := scanKey(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("preload data keys: %w", err)
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("preload data keys: %w", err)
		}
		for _, r := range found {
			dk, err := k.unwrap(r)
			if err != nil {
				return err
			}
			k.remember(q, dk, false)
		}
	}
	return nil
}

// currentKey returns the key new values of owner are sealed with, creating
// the owner's first key if there is none.
func (k *Keyring) currentKey(ctx context.Context, owner string) (*dataKey, error) {
	k.mu.Lock()
	now := k.now()
	if kid, ok := k.current.get(owner, now); ok {
		if dk, ok := k.keys.get(kid, now); ok && !dk.destroyed {
			k.mu.Unlock()
			return dk, nil
		}
	}
	k.mu.Unlock()

	q := k.d.Reader(ctx)
	r, found, err := latestKey(ctx, q, owner)
	if err != nil {
		return nil, err
	}
	if found {
		return k.useCurrent(q, r)
	}
	// No key yet: create version 1. Two nodes may do this at once; the
	// unique (owner, version) lets one insert win and the other, whose
	// insert does nothing, reads the winner's key, so both end with one.
	var dk *dataKey
	err = k.transact(ctx, func(tx *db.Tx) error {
		r, found, err := latestKey(ctx, tx, owner)
		if err != nil {
			return err
		}
		if !found {
			if _, err := k.insertKey(ctx, tx, owner, 1); err != nil {
				return err
			}
			if r, found, err = latestKey(ctx, tx, owner); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("data key of %s missing right after creating it", owner)
			}
		}
		dk, err = k.useCurrent(tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dk, nil
}

// useCurrent unwraps the owner's latest key row and caches it as current.
func (k *Keyring) useCurrent(q db.Querier, r keyRow) (*dataKey, error) {
	if r.destroyed {
		return nil, fmt.Errorf("%w: the keys of %s were destroyed", ErrDestroyed, r.owner)
	}
	dk, err := k.unwrap(r)
	if err != nil {
		return nil, err
	}
	k.remember(q, dk, true)
	return dk, nil
}

// insertKey creates a random data key at version for owner, wrapped under
// the current master key. It reports false when that version already
// exists (another node won the race); the caller rereads.
func (k *Keyring) insertKey(ctx context.Context, tx *db.Tx, owner string, version int64) (bool, error) {
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return false, fmt.Errorf("generate data key: %w", err)
	}
	kid := newKid()
	k.mu.Lock()
	m := k.master
	k.mu.Unlock()
	res, err := tx.ExecContext(ctx, `INSERT INTO data_keys (kid, owner, version, master_kid, wrapped, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, version) DO NOTHING`,
		kid, owner, version, m.id, wrapKey(m, kid, owner, raw), tx.Now())
	if err != nil {
		return false, fmt.Errorf("create data key of %s: %w", owner, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("create data key of %s: %w", owner, err)
	}
	return n == 1, nil
}

func newKid() string { return id.New(kidPrefix) }

// wrapKey seals a data key: nonce ‖ AES-256-GCM(raw), bound to kid and owner.
func wrapKey(m *masterKey, kid, owner string, raw []byte) []byte {
	nonce := make([]byte, nonceSize, nonceSize+len(raw)+tagSize)
	_, _ = rand.Read(nonce) // crypto/rand does not fail on supported platforms
	return m.wrap.Seal(nonce, nonce, raw, wrapAAD(kid, owner))
}

// unwrap turns a key row into a usable key with the master key that
// wrapped it.
func (k *Keyring) unwrap(r keyRow) (*dataKey, error) {
	dk := &dataKey{kid: r.kid, owner: r.owner, version: r.version}
	if r.destroyed {
		dk.destroyed = true
		return dk, nil
	}
	raw, err := k.unwrapRaw(r)
	if err != nil {
		return nil, err
	}
	if dk.aead, err = newGCM(raw); err != nil {
		return nil, fmt.Errorf("data key %s: %w", r.kid, err)
	}
	return dk, nil
}

func (k *Keyring) unwrapRaw(r keyRow) ([]byte, error) {
	k.mu.Lock()
	m := k.masters[r.masterKid]
	k.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("%w: data key %s is wrapped under master key %s, which this node does not have", ErrMasterKey, r.kid, r.masterKid)
	}
	if len(r.wrapped) < nonceSize+tagSize {
		return nil, fmt.Errorf("%w: data key %s is truncated", ErrMasterKey, r.kid)
	}
	raw, err := m.wrap.Open(nil, r.wrapped[:nonceSize], r.wrapped[nonceSize:], wrapAAD(r.kid, r.owner))
	if err != nil || len(raw) != keySize {
		return nil, fmt.Errorf("%w: data key %s does not unwrap under master key %s (wrong key, or the row was altered)", ErrMasterKey, r.kid, r.masterKid)
	}
	return raw, nil
}

// remember caches a key. A key read or created inside a transaction is
// cached only once it commits: a rolled-back key must never be used, or
// values would name a kid that does not exist.
func (k *Keyring) remember(q db.Querier, dk *dataKey, current bool) {
	put := func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		now := k.now()
		k.keys.put(dk.kid, dk, now)
		if current {
			k.current.put(dk.owner, dk.kid, now)
		}
	}
	if tx, ok := q.(*db.Tx); ok {
		tx.OnCommit(put)
		return
	}
	put()
}

// transact runs fn in the transaction ctx carries, else in its own. On
// SQLite, a caller holding the write connection in a transaction it did
// not put in ctx would wait for itself forever; the bounded wait turns
// that into an error that says what to do.
func (k *Keyring) transact(ctx context.Context, fn func(tx *db.Tx) error) error {
	if db.TxFrom(ctx) != nil || k.d.Engine() != db.SQLite || k.lockWait <= 0 {
		return k.d.Transact(ctx, fn)
	}
	wctx, cancel := context.WithTimeout(ctx, k.lockWait)
	defer cancel()
	err := k.d.Transact(wctx, fn)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("data keys: no write transaction after %s; inside a transaction, pass db.ContextWithTx(ctx, tx): %w", k.lockWait, err)
	}
	return err
}
