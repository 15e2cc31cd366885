package audit

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// SHA-256 needs no key, so an attacker can edit a row and re-hash the
// chain from there on so that every link matches. Only the signed
// checkpoint of the head, which they cannot forge, gives it away.
func TestRewrittenChainFailsItsCheckpoint(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		err := d.Transact(ctx, func(tx *db.Tx) error {
			for range 10 {
				if err := Record(ctx, tx, Entry{Action: "thing.update", ResourceType: "thing"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sequencer.Assign(ctx, d, Topic); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, "UPDATE audit_log SET actor = 'cli_mallory' WHERE seq = 5"); err != nil {
			t.Fatal(err)
		}
		rows, err := readChainRows(ctx, d, 0, 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		prev := rows[3].hash.String
		for i := 4; i < 10; i++ {
			r := &rows[i]
			p, _ := hex.DecodeString(prev)
			digest, _ := hex.DecodeString(r.digest.String)
			h := hex.EncodeToString(rowHash(p, r, digest))
			if _, err := d.ExecContext(ctx, "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3", prev, h, r.seq); err != nil {
				t.Fatal(err)
			}
			prev = h
		}
		rep, err := Verify(ctx, d, testMasterKey())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].Kind != CheckpointMismatch || rep.Findings[0].Seq != 10 {
			t.Fatalf("findings %+v, want one checkpoint_mismatch at 10", rep.Findings)
		}
	})
}

// testMasterKey is the key TestMain configures (main_test.go).
func testMasterKey() []byte {
	k := make([]byte, MasterKeySize)
	for i := range k {
		k[i] = 0x5a
	}
	return k
}
