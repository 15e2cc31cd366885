package crypto

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// RotateOwner makes a new current data key for owner and retires the
// previous ones, which keep decrypting the values sealed with them until
// Reencrypt has moved those values to the new key. It returns the new kid.
// Two rotations racing for one owner coalesce: both return the one key
// that won. Other nodes switch within CacheTTL.
func (k *Keyring) RotateOwner(ctx context.Context, owner string) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	if owner == "" {
		return "", errors.New("rotate data key: owner is required")
	}
	var kid string
	err := k.transact(ctx, func(tx *db.Tx) error {
		r, found, err := latestKey(ctx, tx, owner)
		if err != nil {
			return err
		}
		version := int64(1)
		if found {
			if r.destroyed {
				return fmt.Errorf("%w: the keys of %s were destroyed", ErrDestroyed, owner)
			}
			version = r.version + 1
		}
		won, err := k.insertKey(ctx, tx, owner, version)
		if err != nil {
			return err
		}
		if won {
			if _, err := tx.ExecContext(ctx, `UPDATE data_keys SET retired_at = $1
WHERE owner = $2 AND version < $3 AND retired_at IS NULL AND destroyed_at IS NULL`, tx.Now(), owner, version); err != nil {
				return fmt.Errorf("retire data keys of %s: %w", owner, err)
			}
		}
		if r, _, err = latestKey(ctx, tx, owner); err != nil {
			return err
		}
		dk, err := k.useCurrent(tx, r)
		if err != nil {
			return err
		}
		kid = dk.kid
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("rotate data key of %s: %w", owner, err)
	}
	return kid, nil
}

// DestroyOwner destroys every data key of owner (crypto-shredding): the
// wrapped keys are cleared and destroyed_at set, so the owner's values
// anywhere in the database decrypt to ErrDestroyed from then on, while the
// rows holding them stay intact. The owner is marked erased, so Encrypt
// refuses it rather than creating a fresh key. Destroying twice is a no-op.
//
// It joins the transaction ctx carries (db.ContextWithTx), so an erasure
// and the blanking of clear fields commit together. This node forgets the
// keys at commit; other nodes within CacheTTL. Old bytes may linger in the
// engine's storage, so after commit, best effort: on SQLite the rows were
// rewritten with secure_delete and the WAL is truncated (a checkpoint,
// which may briefly hold up writes), on PostgreSQL data_keys is vacuumed.
// A backup taken before still holds the wrapped key, readable with the
// master key of the time: rotate the master key and discard the old one
// to put erased data out of reach of old backups.
func (k *Keyring) DestroyOwner(ctx context.Context, owner string) error {
	if k.err != nil {
		return k.err
	}
	if owner == "" {
		return errors.New("destroy data keys: owner is required")
	}
	err := k.transact(ctx, func(tx *db.Tx) error {
		// Forgotten now and again at commit: a concurrent read could cache
		// the still-committed key in between. Scrubbing needs the
		// transaction over (VACUUM cannot run in one; the SQLite
		// checkpoint needs the write connection back).
		k.forget(owner)
		tx.OnCommit(func() {
			k.forget(owner)
			k.scrub(ctx)
		})
		if tx.Engine() == db.SQLite {
			// Zero the freed bytes of the rewritten rows instead of leaving
			// them in the page; restored before commit, as the write
			// connection is shared.
			if _, err := tx.ExecContext(ctx, "PRAGMA secure_delete = 1"); err != nil {
				return fmt.Errorf("secure delete: %w", err)
			}
			defer func() { _, _ = tx.ExecContext(ctx, "PRAGMA secure_delete = 0") }() // only affects speed
		}
		// A tombstone one version above the latest marks the owner erased.
		// Inserting it also catches a key another node creates or rotates
		// concurrently: that insert conflicts with ours, and we loop to
		// destroy it too.
		for range 5 {
			res, err := tx.ExecContext(ctx, `UPDATE data_keys SET wrapped = NULL, destroyed_at = $1, retired_at = COALESCE(retired_at, $1)
WHERE owner = $2 AND destroyed_at IS NULL`, tx.Now(), owner)
			if err != nil {
				return fmt.Errorf("destroy data keys of %s: %w", owner, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("destroy data keys of %s: %w", owner, err)
			}
			r, found, err := latestKey(ctx, tx, owner)
			if err != nil {
				return err
			}
			if found && r.destroyed && n == 0 {
				return nil // already erased
			}
			version := int64(1)
			if found {
				version = r.version + 1
			}
			k.mu.Lock()
			mid := k.master.id
			k.mu.Unlock()
			res, err = tx.ExecContext(ctx, `INSERT INTO data_keys (kid, owner, version, master_kid, wrapped, created_at, retired_at, destroyed_at)
VALUES ($1, $2, $3, $4, NULL, $5, $5, $5) ON CONFLICT (owner, version) DO NOTHING`,
				newKid(), owner, version, mid, tx.Now())
			if err != nil {
				return fmt.Errorf("mark %s erased: %w", owner, err)
			}
			if n, err = res.RowsAffected(); err != nil {
				return fmt.Errorf("mark %s erased: %w", owner, err)
			}
			if n == 1 {
				return nil
			}
		}
		return fmt.Errorf("destroy data keys of %s: keys kept being created concurrently", owner)
	})
	if err != nil {
		return err
	}
	return nil
}

// forget drops what this node cached about owner's keys.
func (k *Keyring) forget(owner string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys.removeIf(func(dk *dataKey) bool { return dk.owner == owner })
	k.current.remove(owner)
}

// scrub asks the engine to drop old row versions holding destroyed keys.
// Best effort: erasure is already in force, and a failure here (a reader
// holding the WAL, a lacking privilege) must not turn it into an error.
func (k *Keyring) scrub(ctx context.Context) {
	switch k.d.Engine() {
	case db.SQLite:
		_, _ = k.d.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	case db.Postgres:
		_, _ = k.d.ExecContext(ctx, "VACUUM data_keys")
	}
}

// RotateMaster re-wraps every data key under newMaster, online: from the
// start this keyring wraps new keys under newMaster and still unwraps with
// the old one, and the re-wrapping runs in batches of its own
// transactions. It resumes where it stopped if interrupted (rows record
// which master wrapped them), so running it again with the same key
// finishes the job. Values are untouched: the data keys stay the same.
//
// Afterwards the old master key opens nothing in the database. Other
// nodes must be restarted with the new key (and, until then, may be given
// the old one as a previous key). The blind-index key is derived from the
// master key, so blind indexes change: recompute them with Reencrypt
// (Target.BlindIndexes) and look up with BlindIndexCandidates meanwhile.
func (k *Keyring) RotateMaster(ctx context.Context, newMaster []byte) error {
	if k.err != nil {
		return k.err
	}
	nm, err := newMasterKey(newMaster)
	if err != nil {
		return fmt.Errorf("rotate master key: %w", err)
	}
	k.mu.Lock()
	if existing := k.masters[nm.id]; existing != nil {
		nm = existing
	}
	if k.master != nm {
		k.previous = slices.DeleteFunc(k.previous, func(m *masterKey) bool { return m == nm })
		k.previous = append([]*masterKey{k.master}, k.previous...)
		k.master = nm
		k.masters[nm.id] = nm
	}
	k.mu.Unlock()
	for {
		var n int
		err := k.d.Transact(ctx, func(tx *db.Tx) error {
			var err error
			n, err = k.rewrapBatch(ctx, tx, nm)
			return err
		})
		if err != nil {
			return fmt.Errorf("rotate master key: %w", err)
		}
		if n < k.rotateBatch {
			return nil
		}
	}
}

// rewrapBatch re-wraps up to rotateBatch keys not yet under nm. The
// update is conditional on the old master id, so two nodes rotating at once
// never re-wrap a key twice under different keys.
func (k *Keyring) rewrapBatch(ctx context.Context, tx *db.Tx, nm *masterKey) (int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+keyColumns+` FROM data_keys
WHERE destroyed_at IS NULL AND master_kid <> $1 ORDER BY kid LIMIT $2`, nm.id, k.rotateBatch)
	if err != nil {
		return 0, fmt.Errorf("read data keys: %w", err)
	}
	var batch []keyRow
	for rows.Next() {
		r, err := scanKey(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("read data keys: %w", err)
		}
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read data keys: %w", err)
	}
	for _, r := range batch {
		raw, err := k.unwrapRaw(r)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE data_keys SET master_kid = $1, wrapped = $2
WHERE kid = $3 AND master_kid = $4 AND destroyed_at IS NULL`, nm.id, wrapKey(nm, r.kid, r.owner, raw), r.kid, r.masterKid); err != nil {
			return 0, fmt.Errorf("re-wrap data key %s: %w", r.kid, err)
		}
	}
	return len(batch), nil
}

// Verify checks at start-up that this node's master keys can unwrap every
// live data key, so a node with the wrong key fails at once and says so
// rather than on the first sensitive read.
func (k *Keyring) Verify(ctx context.Context) error {
	if k.err != nil {
		return k.err
	}
	rows, err := k.d.QueryContext(ctx, "SELECT master_kid, COUNT(*) FROM data_keys WHERE destroyed_at IS NULL GROUP BY master_kid ORDER BY master_kid")
	if err != nil {
		return fmt.Errorf("verify master key: %w", err)
	}
	defer rows.Close()
	var missing []string
	total := 0
	for rows.Next() {
		var mid string
		var n int
		if err := rows.Scan(&mid, &n); err != nil {
			return fmt.Errorf("verify master key: %w", err)
		}
		k.mu.Lock()
		known := k.masters[mid] != nil
		k.mu.Unlock()
		if !known {
			missing = append(missing, mid)
			total += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify master key: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %d data keys are wrapped under master key %s, and this node has %s (wrong master key, or a rotation to finish with the old key given as previous)",
			ErrMasterKey, total, strings.Join(missing, ", "), k.MasterKeyID())
	}
	return nil
}

// Owners lists the owners that have a live data key (for a rotation job).
func (k *Keyring) Owners(ctx context.Context) ([]string, error) {
	if k.err != nil {
		return nil, k.err
	}
	rows, err := k.d.QueryContext(ctx, "SELECT DISTINCT owner FROM data_keys WHERE destroyed_at IS NULL ORDER BY owner")
	if err != nil {
		return nil, fmt.Errorf("list data key owners: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("list data key owners: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list data key owners: %w", err)
	}
	return out, nil
}
