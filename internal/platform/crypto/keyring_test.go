package crypto

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

var valueFormat = regexp.MustCompile(`^enc:v1:dk_[0-9a-z]{26}:[A-Za-z0-9_-]+$`)

// sharedURL returns a fresh migrated database that several nodes open.
func sharedURL(t *testing.T, e db.Engine) string {
	t.Helper()
	if e == db.SQLite {
		return dbtest.SQLiteURL(t, true)
	}
	return dbtest.PostgresURL(t, true)
}

func forEachEngineURL(t *testing.T, fn func(t *testing.T, url string)) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, sharedURL(t, e)) })
	}
}

func mustEncrypt(t testing.TB, k *Keyring, owner, rec, field, plain string) string {
	t.Helper()
	v, err := k.Encrypt(context.Background(), owner, rec, field, plain)
	if err != nil {
		t.Fatalf("encrypt %s/%s: %v", rec, field, err)
	}
	return v
}

func mustDecrypt(t testing.TB, k *Keyring, rec, field, v, want string) {
	t.Helper()
	got, err := k.Decrypt(context.Background(), rec, field, v)
	if err != nil {
		t.Fatalf("decrypt %s/%s: %v", rec, field, err)
	}
	if got != want {
		t.Fatalf("decrypt %s/%s = %q, want %q", rec, field, got, want)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func kidOf(t testing.TB, v string) string {
	t.Helper()
	kid, err := KeyID(v)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// forgetAll empties the caches, as a restart would.
func (k *Keyring) forgetAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys.clear()
	k.current.clear()
}

func countKeys(t testing.TB, d *db.DB, owner string) (live, all int) {
	t.Helper()
	err := d.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FILTER (WHERE destroyed_at IS NULL), COUNT(*) FROM data_keys WHERE owner = $1", owner).Scan(&live, &all)
	if err != nil {
		t.Fatal(err)
	}
	return live, all
}

func TestRoundTrip(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		k := NewKeyring(d, randomMaster(t))
		for _, plain := range []string{"DE123456789", "", "Zürich — 東京 🔑", strings.Repeat("x", 10_000), "enc:v1:dk_x:abc"} {
			v := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", plain)
			if !valueFormat.MatchString(v) || !IsEncrypted(v) {
				t.Fatalf("value %.60q… does not have the enc:v1 form", v)
			}
			mustDecrypt(t, k, "cus_1", "tax_id", v, plain)
			k.forgetAll()
			mustDecrypt(t, k, "cus_1", "tax_id", v, plain)
			if again := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", plain); again == v {
				t.Fatal("two encryptions of one value are equal: nonce reuse")
			}
		}
		a := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", "x")
		b := mustEncrypt(t, k, "cmp_2", "cus_2", "tax_id", "x")
		if kidOf(t, a) == kidOf(t, b) {
			t.Fatal("two owners share a data key")
		}
		if live, all := countKeys(t, d, "cmp_1"); live != 1 || all != 1 {
			t.Fatalf("cmp_1 has %d live / %d keys, want 1", live, all)
		}
		for _, s := range []string{"", "DE123", "enc:v1:", "enc:v1:dk_abc", "enc:v1:DK:abc", "enc:v1:dk_a:@@", "enc:v2:dk_a:abc"} {
			if IsEncrypted(s) {
				t.Fatalf("IsEncrypted(%q)", s)
			}
			_, err := k.Decrypt(context.Background(), "cus_1", "tax_id", s)
			wantErr(t, err, ErrNotEncrypted)
		}
		if _, err := k.Encrypt(context.Background(), "", "cus_1", "tax_id", "x"); err == nil {
			t.Fatal("encrypt without an owner")
		}
		if _, err := k.Encrypt(context.Background(), "cmp_1", "", "tax_id", "x"); err == nil {
			t.Fatal("encrypt without a record id")
		}
	})
}

func TestBadMasterKeyFailsEveryOperation(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	k := NewKeyring(d, []byte("too short"))
	ctx := context.Background()
	if _, err := k.Encrypt(ctx, "o", "r", "f", "x"); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Fatalf("encrypt: %v", err)
	}
	if err := k.Verify(ctx); err == nil {
		t.Fatal("verify passes with a bad master key")
	}
	if _, err := k.RotateOwner(ctx, "o"); err == nil {
		t.Fatal("rotate passes")
	}
}

func TestAssociatedDataBindsRecordAndField(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		k := NewKeyring(d, randomMaster(t))
		v := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", "DE123")
		for _, c := range []struct{ rec, field string }{
			{"cus_2", "tax_id"}, // another row
			{"cus_1", "iban"},   // another field
			{"cus_1t", "ax_id"}, // same bytes, shifted boundary
			{"cus_", "1tax_id"},
		} {
			_, err := k.Decrypt(context.Background(), c.rec, c.field, v)
			wantErr(t, err, ErrAuthentication)
		}
	})
}

func TestTamperedValuesFail(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		k := NewKeyring(d, randomMaster(t))
		v := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", "DE123")
		other := mustEncrypt(t, k, "cmp_2", "cus_1", "tax_id", "DE123")
		kid, sealed, err := parseValue(v)
		if err != nil {
			t.Fatal(err)
		}
		enc := func(kid string, b []byte) string { return Prefix + kid + ":" + base64.RawURLEncoding.EncodeToString(b) }
		for i := range sealed {
			b := append([]byte(nil), sealed...)
			b[i] ^= 0x01
			_, err := k.Decrypt(context.Background(), "cus_1", "tax_id", enc(kid, b))
			wantErr(t, err, ErrAuthentication)
		}
		for _, b := range [][]byte{sealed[:len(sealed)-1], sealed[:27], sealed[:3]} {
			_, err := k.Decrypt(context.Background(), "cus_1", "tax_id", enc(kid, b))
			wantErr(t, err, ErrAuthentication)
		}
		// The payload under another owner's kid: that key does not open it.
		_, err = k.Decrypt(context.Background(), "cus_1", "tax_id", enc(kidOf(t, other), sealed))
		wantErr(t, err, ErrAuthentication)
		_, err = k.Decrypt(context.Background(), "cus_1", "tax_id", enc("dk_00000000000000000000000000", sealed))
		wantErr(t, err, ErrUnknownKey)
	})
}

func TestWrongMasterKeyFailsToUnwrap(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := NewKeyring(d, randomMaster(t))
		v := mustEncrypt(t, a, "cmp_1", "cus_1", "tax_id", "DE123")
		if err := a.Verify(ctx); err != nil {
			t.Fatalf("verify with the right key: %v", err)
		}

		b := NewKeyring(d, randomMaster(t))
		_, err := b.Decrypt(ctx, "cus_1", "tax_id", v)
		wantErr(t, err, ErrMasterKey)
		if err := b.Verify(ctx); !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), a.MasterKeyID()) {
			t.Fatalf("verify with the wrong key: %v", err)
		}
		// Even claiming to be the right master (same id), the wrong key's
		// wrapping cipher does not open the data key.
		b.mu.Lock()
		impostor := *b.master
		impostor.id = a.MasterKeyID()
		b.masters[impostor.id] = &impostor
		b.mu.Unlock()
		_, err = b.Decrypt(ctx, "cus_1", "tax_id", v)
		wantErr(t, err, ErrMasterKey)

		// A key row moved to another owner does not unwrap: the owner is
		// bound to the wrapped key.
		if _, err := d.ExecContext(ctx, "UPDATE data_keys SET owner = 'cmp_evil' WHERE kid = $1", kidOf(t, v)); err != nil {
			t.Fatal(err)
		}
		a.forgetAll()
		_, err = a.Decrypt(ctx, "cus_1", "tax_id", v)
		wantErr(t, err, ErrMasterKey)
	})
}

// Two nodes creating the first key of one owner at once end with one key,
// and each decrypts the other's values.
func TestTwoNodesRaceForFirstKey(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, url string) {
		master := randomMaster(t)
		d1, d2 := dbtest.OpenURL(t, url), dbtest.OpenURL(t, url)
		nodes := []*Keyring{NewKeyring(d1, master), NewKeyring(d2, master)}
		const perNode = 6
		type result struct {
			node int
			rec  string
			v    string
			err  error
		}
		results := make(chan result, 2*perNode)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for n, k := range nodes {
			for i := range perNode {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rec := fmt.Sprintf("cus_%d_%d", n, i)
					v, err := k.Encrypt(context.Background(), "cmp_race", rec, "tax_id", "secret "+rec)
					results <- result{n, rec, v, err}
				}()
			}
		}
		close(start)
		wg.Wait()
		close(results)
		kids := map[string]bool{}
		var all []result
		for r := range results {
			if r.err != nil {
				t.Fatalf("node %d: %v", r.node, r.err)
			}
			kids[kidOf(t, r.v)] = true
			all = append(all, r)
		}
		if len(kids) != 1 {
			t.Fatalf("values use %d kids, want 1", len(kids))
		}
		if live, total := countKeys(t, d1, "cmp_race"); live != 1 || total != 1 {
			t.Fatalf("owner has %d live / %d keys, want 1", live, total)
		}
		for _, r := range all {
			for _, k := range nodes {
				mustDecrypt(t, k, r.rec, "tax_id", r.v, "secret "+r.rec)
			}
		}
	})
}

func TestRotateOwner(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		master := randomMaster(t)
		d := dbtest.OpenURL(t, url)
		k := NewKeyring(d, master)
		other := NewKeyring(dbtest.OpenURL(t, url), master) // a second node
		clock := time.Now()
		other.now = func() time.Time { return clock }

		old := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", "old value")
		oldKid := kidOf(t, old)
		if v := mustEncrypt(t, other, "cmp_1", "cus_2", "tax_id", "x"); kidOf(t, v) != oldKid {
			t.Fatal("the second node uses another key")
		}
		newKid, err := k.RotateOwner(ctx, "cmp_1")
		if err != nil {
			t.Fatal(err)
		}
		if newKid == oldKid {
			t.Fatal("rotation kept the kid")
		}
		fresh := mustEncrypt(t, k, "cmp_1", "cus_1", "tax_id", "new value")
		if kidOf(t, fresh) != newKid {
			t.Fatalf("new value uses %s, want %s", kidOf(t, fresh), newKid)
		}
		mustDecrypt(t, k, "cus_1", "tax_id", old, "old value")
		mustDecrypt(t, k, "cus_1", "tax_id", fresh, "new value")
		var version int
		var retired int
		if err := d.QueryRowContext(ctx, "SELECT version FROM data_keys WHERE kid = $1", newKid).Scan(&version); err != nil || version != 2 {
			t.Fatalf("new key version %d (%v), want 2", version, err)
		}
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM data_keys WHERE kid = $1 AND retired_at IS NOT NULL", oldKid).Scan(&retired); err != nil || retired != 1 {
			t.Fatalf("old key retired %d (%v)", retired, err)
		}

		// The other node still uses its cached key until CacheTTL, then
		// the new one; it decrypts both.
		if v := mustEncrypt(t, other, "cmp_1", "cus_3", "tax_id", "x"); kidOf(t, v) != oldKid {
			t.Fatal("the other node dropped its cache early")
		}
		clock = clock.Add(CacheTTL + time.Second)
		if v := mustEncrypt(t, other, "cmp_1", "cus_3", "tax_id", "x"); kidOf(t, v) != newKid {
			t.Fatalf("after CacheTTL the other node uses %s, want %s", kidOf(t, v), newKid)
		}
		mustDecrypt(t, other, "cus_1", "tax_id", fresh, "new value")
		mustDecrypt(t, other, "cus_1", "tax_id", old, "old value")

		// Rotating an owner without keys makes its first.
		kid, err := k.RotateOwner(ctx, "cmp_new")
		if err != nil {
			t.Fatal(err)
		}
		if v := mustEncrypt(t, k, "cmp_new", "r", "f", "x"); kidOf(t, v) != kid {
			t.Fatal("rotation of a keyless owner did not make its current key")
		}
	})
}

func TestRotateMaster(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		oldMaster, newMaster := randomMaster(t), randomMaster(t)
		k := NewKeyring(d, oldMaster)
		k.rotateBatch = 2 // several batches
		type val struct{ rec, plain, v string }
		var vals []val
		for i := range 5 {
			owner := fmt.Sprintf("cmp_%d", i)
			rec := fmt.Sprintf("cus_%d", i)
			vals = append(vals, val{rec, "secret " + rec, mustEncrypt(t, k, owner, rec, "iban", "secret "+rec)})
			if i%2 == 0 { // some owners with a retired key too
				if _, err := k.RotateOwner(ctx, owner); err != nil {
					t.Fatal(err)
				}
				vals = append(vals, val{rec, "later " + rec, mustEncrypt(t, k, owner, rec, "iban", "later "+rec)})
			}
		}
		if err := k.DestroyOwner(ctx, "cmp_4"); err != nil {
			t.Fatal(err)
		}
		oldID := k.MasterKeyID()
		if err := k.RotateMaster(ctx, newMaster); err != nil {
			t.Fatal(err)
		}
		newID := k.MasterKeyID()
		if newID == oldID || newID != masterID(newMaster) {
			t.Fatalf("master id %s after rotation from %s", newID, oldID)
		}
		var stale int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM data_keys WHERE destroyed_at IS NULL AND master_kid <> $1", newID).Scan(&stale); err != nil || stale != 0 {
			t.Fatalf("%d keys not re-wrapped (%v)", stale, err)
		}
		check := func(k *Keyring) {
			t.Helper()
			for _, v := range vals {
				got, err := k.Decrypt(ctx, v.rec, "iban", v.v)
				if v.rec == "cus_4" {
					wantErr(t, err, ErrDestroyed)
					continue
				}
				if err != nil || got != v.plain {
					t.Fatalf("decrypt %s: %q, %v", v.rec, got, err)
				}
			}
		}
		k.forgetAll()
		check(k)
		check(NewKeyring(d, newMaster))
		check(NewKeyring(d, randomMaster(t), newMaster)) // as a previous key
		if err := NewKeyring(d, newMaster).Verify(ctx); err != nil {
			t.Fatalf("verify with the new key: %v", err)
		}

		// The old master key opens nothing any more.
		oldNode := NewKeyring(d, oldMaster)
		for _, v := range vals {
			if v.rec == "cus_4" {
				continue
			}
			_, err := oldNode.Decrypt(ctx, v.rec, "iban", v.v)
			wantErr(t, err, ErrMasterKey)
		}
		if err := oldNode.Verify(ctx); !errors.Is(err, ErrMasterKey) {
			t.Fatalf("verify with the old key: %v", err)
		}
		// New keys are wrapped under the new master.
		v := mustEncrypt(t, k, "cmp_after", "r", "f", "x")
		mustDecrypt(t, NewKeyring(d, newMaster), "r", "f", v, "x")
		// Running it again is a no-op.
		if err := k.RotateMaster(ctx, newMaster); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDestroyOwner(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		master := randomMaster(t)
		d := dbtest.OpenURL(t, url)
		k := NewKeyring(d, master)
		other := NewKeyring(dbtest.OpenURL(t, url), master)
		clock := time.Now()
		other.now = func() time.Time { return clock }

		v1 := mustEncrypt(t, k, "per_1", "emp_1", "national_id", "756.1234.5678.97")
		if _, err := k.RotateOwner(ctx, "per_1"); err != nil {
			t.Fatal(err)
		}
		v2 := mustEncrypt(t, k, "per_1", "emp_1", "iban", "CH93 0076 2011 6238 5295 7")
		keep := mustEncrypt(t, k, "per_2", "emp_2", "iban", "kept")
		mustDecrypt(t, other, "emp_1", "iban", v2, "CH93 0076 2011 6238 5295 7") // cached there

		var wrapped [][]byte
		rows, err := d.QueryContext(ctx, "SELECT wrapped FROM data_keys WHERE owner = 'per_1'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var w []byte
			if err := rows.Scan(&w); err != nil {
				t.Fatal(err)
			}
			wrapped = append(wrapped, w)
		}
		rows.Close()
		if len(wrapped) != 2 {
			t.Fatalf("%d keys before destroying, want 2", len(wrapped))
		}

		if err := k.DestroyOwner(ctx, "per_1"); err != nil {
			t.Fatal(err)
		}
		assertGoneFromFiles(t, d, wrapped)
		for _, kr := range []*Keyring{k, NewKeyring(d, master)} {
			_, err := kr.Decrypt(ctx, "emp_1", "national_id", v1)
			wantErr(t, err, ErrDestroyed)
			_, err = kr.Decrypt(ctx, "emp_1", "iban", v2)
			wantErr(t, err, ErrDestroyed)
			mustDecrypt(t, kr, "emp_2", "iban", keep, "kept")
		}
		// The other node forgets within CacheTTL.
		clock = clock.Add(CacheTTL + time.Second)
		_, err = other.Decrypt(ctx, "emp_1", "iban", v2)
		wantErr(t, err, ErrDestroyed)

		var withKey int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM data_keys WHERE owner = 'per_1' AND (wrapped IS NOT NULL OR destroyed_at IS NULL)").Scan(&withKey); err != nil || withKey != 0 {
			t.Fatalf("%d keys of per_1 survive (%v)", withKey, err)
		}
		// An erased owner gets no new key.
		_, err = k.Encrypt(ctx, "per_1", "emp_1", "iban", "again")
		wantErr(t, err, ErrDestroyed)
		_, err = k.RotateOwner(ctx, "per_1")
		wantErr(t, err, ErrDestroyed)
		// Again is a no-op; an owner that never had a key is marked erased.
		if err := k.DestroyOwner(ctx, "per_1"); err != nil {
			t.Fatal(err)
		}
		if live, all := countKeys(t, d, "per_1"); live != 0 || all != 3 {
			t.Fatalf("per_1: %d live / %d rows, want 0 / 3 (two keys and the mark)", live, all)
		}
		if err := k.DestroyOwner(ctx, "per_never"); err != nil {
			t.Fatal(err)
		}
		_, err = k.Encrypt(ctx, "per_never", "emp_3", "iban", "x")
		wantErr(t, err, ErrDestroyed)
		owners, err := k.Owners(ctx)
		if err != nil || strings.Join(owners, ",") != "per_2" {
			t.Fatalf("owners %v (%v), want per_2", owners, err)
		}
		if err := k.Verify(ctx); err != nil {
			t.Fatalf("verify after destroying: %v", err)
		}

		// Inside the caller's transaction (erasure blanks clear fields in
		// the same one): destroyed at its commit, not before.
		v3 := mustEncrypt(t, k, "per_3", "emp_3", "iban", "third")
		var w3 []byte
		if err := d.QueryRowContext(ctx, "SELECT wrapped FROM data_keys WHERE owner = 'per_3'").Scan(&w3); err != nil {
			t.Fatal(err)
		}
		err = d.Transact(ctx, func(tx *db.Tx) error {
			if err := k.DestroyOwner(db.ContextWithTx(ctx, tx), "per_3"); err != nil {
				return err
			}
			if d.Engine() == db.Postgres { // another connection still sees the key
				mustDecrypt(t, NewKeyring(d, master), "emp_3", "iban", v3, "third")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = k.Decrypt(ctx, "emp_3", "iban", v3)
		wantErr(t, err, ErrDestroyed)
		assertGoneFromFiles(t, d, [][]byte{w3})
	})
}

// assertGoneFromFiles checks, on SQLite, that not even the wrapped bytes
// of destroyed keys remain in the database files.
func assertGoneFromFiles(t *testing.T, d *db.DB, wrapped [][]byte) {
	t.Helper()
	if d.Engine() != db.SQLite {
		return
	}
	var files []byte
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(d.Path() + suffix); err == nil {
			files = append(files, b...)
		}
	}
	if len(files) == 0 {
		t.Fatal("no database files read")
	}
	for _, w := range wrapped {
		if len(w) < nonceSize+keySize || bytes.Contains(files, w) {
			t.Fatal("a destroyed wrapped key remains in the SQLite files")
		}
	}
}

func TestPreload(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		master := randomMaster(t)
		k := NewKeyring(d, master)
		var values []string
		for i := range 20 {
			rec := fmt.Sprintf("cus_%d", i)
			values = append(values, mustEncrypt(t, k, rec, rec, "iban", "secret "+rec)) // a key per record
		}
		fresh := NewKeyring(d, master)
		if err := fresh.Preload(ctx, append(values, "clear text", values[0])...); err != nil {
			t.Fatal(err)
		}
		// Every key is cached: decryption no longer needs the table.
		if _, err := d.ExecContext(ctx, "DELETE FROM data_keys"); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			rec := fmt.Sprintf("cus_%d", i)
			mustDecrypt(t, fresh, rec, "iban", v, "secret "+rec)
		}
	})
}

// Inside a transaction, a first key is created in that transaction and
// used only if it commits.
func TestEncryptInsideTransaction(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		master := randomMaster(t)
		k := NewKeyring(d, master)
		boom := errors.New("roll back")
		var lost string
		err := d.Transact(ctx, func(tx *db.Tx) error {
			v, err := k.Encrypt(db.ContextWithTx(ctx, tx), "cmp_tx", "cus_1", "tax_id", "x")
			if err != nil {
				return err
			}
			lost = v
			return boom
		})
		wantErr(t, err, boom)
		if _, all := countKeys(t, d, "cmp_tx"); all != 0 {
			t.Fatal("a rolled-back key row exists")
		}
		v := mustEncrypt(t, k, "cmp_tx", "cus_1", "tax_id", "x")
		if kidOf(t, v) == kidOf(t, lost) {
			t.Fatal("the keyring kept a rolled-back key")
		}
		_, err = k.Decrypt(ctx, "cus_1", "tax_id", lost)
		wantErr(t, err, ErrUnknownKey)

		var inTx string
		err = d.Transact(ctx, func(tx *db.Tx) error {
			tctx := db.ContextWithTx(ctx, tx)
			var err error
			if inTx, err = k.Encrypt(tctx, "cmp_tx2", "cus_2", "tax_id", "y"); err != nil {
				return err
			}
			if _, err := k.Encrypt(tctx, "cmp_tx2", "cus_3", "tax_id", "z"); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustDecrypt(t, NewKeyring(d, master), "cus_2", "tax_id", inTx, "y")

		if d.Engine() == db.SQLite {
			// Without the transaction in ctx, SQLite's single writer is
			// held by the caller: a clear error, not a hang.
			k.lockWait = 200 * time.Millisecond
			err = d.Transact(ctx, func(tx *db.Tx) error {
				_, err := k.Encrypt(ctx, "cmp_tx3", "cus_4", "tax_id", "x")
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "db.ContextWithTx") {
				t.Fatalf("error %v, want the hint to pass the transaction", err)
			}
		}
	})
}
