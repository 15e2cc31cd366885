package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// MasterKeySize is the length of the master key Configure, Verify and
// Prune take.
const MasterKeySize = 32

// Checkpoint policy: the sequencer signs the head when it is CheckpointEvery
// rows past the last signed head, or when the last one is CheckpointInterval
// old, whichever comes first. A row is thus covered by a signature within
// about a minute, which bounds how much of the tail an attacker with write
// access to the database could cut or rewrite unnoticed.
const (
	CheckpointEvery    = 1000
	CheckpointInterval = time.Minute
)

// Checkpoint kinds.
const (
	// KindHead signs a row's position and hash: the chain up to there.
	KindHead = "head"
	// KindStart signs where the chain begins after pruning: the first
	// kept row's position and its prev_hash.
	KindStart = "start"
)

// HKDF info strings: one master key, a separate key per purpose, so no
// value made for one purpose can be replayed as another.
const (
	infoChain      = "mainstay/audit/chain-key/v1"
	infoCheckpoint = "mainstay/audit/checkpoint-ed25519/v1"
	infoPageToken  = "mainstay/audit/page-token-key/v1"
)

// Domain strings prefixed to what is hashed or signed.
const (
	domainRow        = "mainstay/audit/row/v1"
	domainPersonal   = "mainstay/audit/personal/v1"
	domainCheckpoint = "mainstay/audit/checkpoint/v1"
)

// genesis is the prev_hash of the first row of a chain: 32 zero bytes.
var genesis = strings.Repeat("0", 2*sha256.Size)

// keys are what the master key yields.
type keys struct {
	chain []byte // HMAC key of the personal digest
	sign  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
	token []byte // page tokens of the query API
}

func deriveKeys(master []byte) (*keys, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("audit master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	chain, err := hkdf.Key(sha256.New, master, nil, infoChain, 32)
	if err != nil {
		return nil, fmt.Errorf("derive audit chain key: %w", err)
	}
	seed, err := hkdf.Key(sha256.New, master, nil, infoCheckpoint, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("derive audit checkpoint key: %w", err)
	}
	token, err := hkdf.Key(sha256.New, master, nil, infoPageToken, 32)
	if err != nil {
		return nil, fmt.Errorf("derive audit page token key: %w", err)
	}
	sign := ed25519.NewKeyFromSeed(seed)
	pub := sign.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &keys{chain: chain, sign: sign, pub: pub, keyID: hex.EncodeToString(sum[:8]), token: token}, nil
}

var configured atomic.Pointer[keys]

// Configure gives the audit chain its keys, derived from a 32-byte master
// key, and installs the linker in the sequencer: from then on every audit
// row the sequencer numbers is linked into the hash chain in the same pass,
// and the head is signed periodically. Call it once at start, before
// sequencer.Run, with the same master key on every node. Without it (or
// with nil, which removes it) rows are numbered as before and their hashes
// stay NULL; Verify then reports them as unchained.
func Configure(masterKey []byte) error {
	if masterKey == nil {
		configured.Store(nil)
		sequencer.SetLinker(Topic, nil)
		return nil
	}
	k, err := deriveKeys(masterKey)
	if err != nil {
		return err
	}
	configured.Store(k)
	sequencer.SetLinker(Topic, func(ctx context.Context, tx *db.Tx, first, last int64) error {
		return link(ctx, tx, k, first, last)
	})
	return nil
}

// PublicKey returns the key that verifies checkpoints made under masterKey,
// and its key id, for operators who keep a copy outside the database.
func PublicKey(masterKey []byte) (ed25519.PublicKey, string, error) {
	k, err := deriveKeys(masterKey)
	if err != nil {
		return nil, "", err
	}
	return k.pub, k.keyID, nil
}

var processTokenKey = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return b
})

// PageTokenKey is the HMAC key for the audit API's page tokens: derived
// from the configured master key, so every node accepts every node's
// tokens; without one, a random key of this process (tokens then fail on
// another node or after a restart, with a 400 that says to start again).
func PageTokenKey() []byte {
	if k := configured.Load(); k != nil {
		return k.token
	}
	return processTokenKey()
}

// chainRow is a row as the chain sees it.
type chainRow struct {
	seq                                     int64
	auditID                                 string
	occurredAt                              time.Time
	actor, action, resourceType, resourceID string
	companyID, requestID, outcome, details  string
	onBehalfOf, ip, userAgent               string
	digest                                  sql.NullString
	erased                                  sql.NullTime
	prev, hash                              sql.NullString
}

const chainColumns = `seq, audit_id, occurred_at, actor, action, resource_type, resource_id, company_id,
request_id, outcome, details, on_behalf_of, ip, user_agent, personal_digest, personal_erased_at, prev_hash, hash`

func scanChainRow(rows *sql.Rows) (chainRow, error) {
	var r chainRow
	err := rows.Scan(&r.seq, &r.auditID, &r.occurredAt, &r.actor, &r.action, &r.resourceType, &r.resourceID, &r.companyID,
		&r.requestID, &r.outcome, &r.details, &r.onBehalfOf, &r.ip, &r.userAgent, &r.digest, &r.erased, &r.prev, &r.hash)
	return r, err
}

// readChainRows reads up to limit rows with after < seq <= through, in
// position order.
func readChainRows(ctx context.Context, q db.Querier, after, through int64, limit int) ([]chainRow, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+chainColumns+` FROM audit_log
WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, after, through, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit chain after %d: %w", after, err)
	}
	defer rows.Close()
	var out []chainRow
	for rows.Next() {
		r, err := scanChainRow(rows)
		if err != nil {
			return nil, fmt.Errorf("read audit chain after %d: %w", after, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit chain after %d: %w", after, err)
	}
	return out, nil
}

// writeField writes s length-prefixed, so field boundaries cannot be moved
// ("ab"+"c" and "a"+"bc" hash differently).
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// personalDigest is the keyed digest of a row's personal fields. Keyed, so
// that a low-entropy value (an IP address) cannot be confirmed by hashing
// guesses; stored, so that erasing the fields later keeps the chain whole.
func personalDigest(chainKey []byte, r *chainRow) []byte {
	m := hmac.New(sha256.New, chainKey)
	writeField(m, domainPersonal)
	writeField(m, r.onBehalfOf)
	writeField(m, r.ip)
	writeField(m, r.userAgent)
	return m.Sum(nil)
}

// rowHash is SHA-256(prev || canonical non-personal fields || personal
// digest). Times are hashed as UTC RFC 3339 with nanoseconds, as read back
// from the database, so the value does not depend on the engine's zone.
func rowHash(prev []byte, r *chainRow, digest []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	writeField(h, domainRow)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.seq))
	h.Write(n[:])
	for _, f := range []string{r.auditID, r.occurredAt.UTC().Format(time.RFC3339Nano), r.actor, r.action,
		r.resourceType, r.resourceID, r.companyID, r.requestID, r.outcome, r.details} {
		writeField(h, f)
	}
	h.Write(digest)
	return h.Sum(nil)
}

// linkChunk is how many rows one UPDATE links: SQLite allows 500 terms in
// a compound SELECT.
const linkChunk = 200

// link gives rows first..last (just numbered, in this transaction) their
// personal digest, prev_hash and hash, then signs the head if it is due.
func link(ctx context.Context, tx *db.Tx, k *keys, first, last int64) error {
	if first <= last {
		prev, err := hashAt(ctx, tx, first-1)
		if err != nil {
			return err
		}
		rows, err := readChainRows(ctx, tx, first-1, last, int(last-first+1))
		if err != nil {
			return err
		}
		type linked struct {
			seq                  int64
			digest, prev, hashed string
		}
		out := make([]linked, 0, len(rows))
		for i := range rows {
			r := &rows[i]
			p, err := hex.DecodeString(prev)
			if err != nil || len(p) != sha256.Size {
				// The previous row's hash was tampered with. Stalling the
				// log would help no one: start again from genesis, which
				// Verify reports as a broken link here.
				prev = genesis
				p = make([]byte, sha256.Size)
			}
			digest := personalDigest(k.chain, r)
			h := hex.EncodeToString(rowHash(p, r, digest))
			out = append(out, linked{r.seq, hex.EncodeToString(digest), prev, h})
			prev = h
		}
		for len(out) > 0 {
			chunk := out[:min(linkChunk, len(out))]
			out = out[len(chunk):]
			var sb strings.Builder
			args := make([]any, 0, 4*len(chunk))
			for i, l := range chunk {
				if i > 0 {
					sb.WriteString(" UNION ALL ")
				}
				n := len(args)
				fmt.Fprintf(&sb, "SELECT CAST($%d AS BIGINT) AS s, CAST($%d AS TEXT) AS d, CAST($%d AS TEXT) AS p, CAST($%d AS TEXT) AS h",
					n+1, n+2, n+3, n+4)
				args = append(args, l.seq, l.digest, l.prev, l.hashed)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET personal_digest = v.d, prev_hash = v.p, hash = v.h
FROM (`+sb.String()+`) AS v WHERE audit_log.seq = v.s`, args...); err != nil {
				return fmt.Errorf("link audit rows %d..%d: %w", chunk[0].seq, chunk[len(chunk)-1].seq, err)
			}
		}
	}
	return checkpointHead(ctx, tx, k, false)
}

// hashAt is the hash of the row at seq, or genesis when there is none (the
// first row) or it has none (numbered before a key was configured): the
// chain then begins again there, which Verify reports.
func hashAt(ctx context.Context, q db.Querier, seq int64) (string, error) {
	if seq < 1 {
		return genesis, nil
	}
	var h sql.NullString
	err := q.QueryRowContext(ctx, "SELECT hash FROM audit_log WHERE seq = $1", seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !h.Valid {
		return genesis, nil
	}
	if err != nil {
		return "", fmt.Errorf("read audit hash at %d: %w", seq, err)
	}
	return h.String, nil
}

// checkpointHead signs the head of the chain when it is due (see
// CheckpointEvery), or whenever it is ahead of the last signed one if force.
func checkpointHead(ctx context.Context, tx *db.Tx, k *keys, force bool) error {
	var head int64
	var headHash sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`).Scan(&head, &headHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	if !headHash.Valid {
		return nil // numbered without a key: nothing to sign
	}
	var last int64
	var at time.Time
	err = tx.QueryRowContext(ctx, `SELECT seq, created_at FROM audit_checkpoints WHERE kind = 'head'
ORDER BY seq DESC, id DESC LIMIT 1`).Scan(&last, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The first signature: make it now rather than a minute late.
	case err != nil:
		return fmt.Errorf("read last audit checkpoint: %w", err)
	case head <= last:
		return nil
	case !force && head-last < CheckpointEvery && tx.Now().Before(at.Add(CheckpointInterval)):
		return nil
	}
	return writeCheckpoint(ctx, tx, k, KindHead, head, headHash.String)
}

// checkpointMessage is what a checkpoint's signature covers.
func checkpointMessage(kind string, seq int64, hashHex string) []byte {
	var b []byte
	b = append(b, domainCheckpoint...)
	b = append(b, 0)
	b = append(b, kind...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	return append(b, hashHex...)
}

func writeCheckpoint(ctx context.Context, tx *db.Tx, k *keys, kind string, seq int64, hashHex string) error {
	sig := ed25519.Sign(k.sign, checkpointMessage(kind, seq, hashHex))
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (kind, seq, hash, created_at, key_id, signature)
VALUES ($1, $2, $3, $4, $5, $6)`, kind, seq, hashHex, tx.Now(), k.keyID, base64.RawStdEncoding.EncodeToString(sig))
	if err != nil {
		return fmt.Errorf("write audit %s checkpoint at %d: %w", kind, seq, err)
	}
	return nil
}

// Checkpoint is a signed statement about the chain.
type Checkpoint struct {
	Kind      string    `json:"kind"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	KeyID     string    `json:"key_id"`
	signature string
	id        int64
}

// valid reports whether the checkpoint was signed by k.
func (c *Checkpoint) valid(k *keys) bool {
	if c.KeyID != k.keyID {
		return false
	}
	sig, err := base64.RawStdEncoding.DecodeString(c.signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(k.pub, checkpointMessage(c.Kind, c.Seq, c.Hash), sig)
}

const checkpointColumns = "id, kind, seq, hash, created_at, key_id, signature"

func scanCheckpoints(rows *sql.Rows) ([]Checkpoint, error) {
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var c Checkpoint
		if err := rows.Scan(&c.id, &c.Kind, &c.Seq, &c.Hash, &c.CreatedAt, &c.KeyID, &c.signature); err != nil {
			return nil, fmt.Errorf("read audit checkpoints: %w", err)
		}
		c.CreatedAt = c.CreatedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", err)
	}
	return out, nil
}
