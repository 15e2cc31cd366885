package crypto

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestWalkStrings(t *testing.T) {
	doc := []byte(`{"a" : "x\"y", "n": [1.50, "p\u00e9", {"b":"<&>" ,"c":[true,null,"z"]}], "e":{} , "k":"v"}`)
	type hit struct {
		path  string
		value string
		raw   string
	}
	var got []hit
	err := walkStrings(doc, func(s jsonString) error {
		got = append(got, hit{strings.Join(s.path, "/"), s.value, string(doc[s.start:s.end])})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []hit{
		{"a", `x"y`, `"x\"y"`},
		{"n/1", "pé", `"p\u00e9"`},
		{"n/2/b", "<&>", `"<&>"`},
		{"n/2/c/2", "z", `"z"`},
		{"k", "v", `"v"`},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	for _, bad := range []string{`{"a":`, `{"a" 1}`, `{} {}`, `[1,]`, `"a" "b"`} {
		if err := walkStrings([]byte(bad), func(jsonString) error { return nil }); err == nil {
			t.Errorf("walk accepted %q", bad)
		}
	}
	if err := walkStrings([]byte(` "top" `), func(s jsonString) error {
		if len(s.path) != 0 || s.value != "top" {
			t.Fatalf("top-level string: %+v", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

const docTable = `CREATE TABLE crypt_docs (
    id      TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    doc     TEXT NOT NULL,
    tax_idx TEXT NOT NULL DEFAULT ''
)`

// docFixture is a table of customer-like documents: two owners, encrypted
// members at the top level and inside arrays, and clear members spelled
// in ways a decode/re-encode would change (number forms, escapes, member
// order, white space).
type docFixture struct {
	k      *Keyring
	d      *db.DB
	plain  map[string]map[string]string // id → field → plaintext
	before map[string]string            // id → original doc
}

func newDocFixture(t *testing.T, d *db.DB, k *Keyring, n int) *docFixture {
	t.Helper()
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, docTable); err != nil {
		t.Fatal(err)
	}
	f := &docFixture{k: k, d: d, plain: map[string]map[string]string{}, before: map[string]string{}}
	for i := range n {
		id := fmt.Sprintf("cus_%02d", i)
		owner := []string{"cmp_a", "cmp_b"}[i%2]
		tax := fmt.Sprintf("DE %03d-%03d", i, i)
		iban0 := fmt.Sprintf("DE89 3704 0044 0532 0130 %02d", i)
		f.plain[id] = map[string]string{"tax_id": tax, "bank_accounts.0.iban": iban0, "bank_accounts.1.iban": "second " + id}
		doc := fmt.Sprintf(`{ "zeta":1.50,"name":"Caf\u00e9 <%d> & Co","tax_id":%q,
  "bank_accounts":[{"iban":%q,"primary":true},{"iban":%q,"note":null}],"alpha":1e2,"tags":["a","b"] }`,
			i, mustEncrypt(t, k, owner, id, "tax_id", tax),
			mustEncrypt(t, k, owner, id, "bank_accounts.0.iban", iban0),
			mustEncrypt(t, k, owner, id, "bank_accounts.1.iban", "second "+id))
		f.before[id] = doc
		if _, err := d.ExecContext(ctx, "INSERT INTO crypt_docs (id, version, doc, tax_idx) VALUES ($1, 1, $2, $3)",
			id, doc, k.BlindIndex("tax_id", tax)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

var target = Target{
	Table: "crypt_docs", IDColumn: "id", VersionColumn: "version", DocColumn: "doc",
	BlindIndexes: []BlindIndexColumn{{Column: "tax_idx", Path: []string{"tax_id"}, Field: "tax_id"}},
	BatchSize:    3,
}

type docRowState struct {
	version int64
	doc     string
	index   string
}

func (f *docFixture) rows(t *testing.T) map[string]docRowState {
	t.Helper()
	rows, err := f.d.QueryContext(context.Background(), "SELECT id, version, doc, tax_idx FROM crypt_docs ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]docRowState{}
	for rows.Next() {
		var id string
		var s docRowState
		if err := rows.Scan(&id, &s.version, &s.doc, &s.index); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	return out
}

var encValue = regexp.MustCompile(`enc:v1:[a-z0-9_]+:[A-Za-z0-9_-]+`)

// shape is a document with every encrypted value blanked: what must not
// change, byte for byte.
func shape(doc string) string { return encValue.ReplaceAllString(doc, "ENC") }

// checkValues decrypts every encrypted value of a row and returns the kids.
func (f *docFixture) checkValues(t *testing.T, id, doc string) []string {
	t.Helper()
	var kids []string
	err := walkStrings([]byte(doc), func(s jsonString) error {
		if !IsEncrypted(s.value) {
			return nil
		}
		field := strings.Join(s.path, ".")
		mustDecrypt(t, f.k, id, field, s.value, f.plain[id][field])
		kids = append(kids, kidOf(t, s.value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 3 {
		t.Fatalf("%s holds %d encrypted values, want 3", id, len(kids))
	}
	return kids
}

func TestReencrypt(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k := NewKeyring(d, randomMaster(t))
		f := newDocFixture(t, d, k, 8)
		oldB := kidOf(t, mustEncrypt(t, k, "cmp_b", "x", "y", "z"))
		newA, err := k.RotateOwner(ctx, "cmp_a")
		if err != nil {
			t.Fatal(err)
		}

		// A writer changes cus_02 between the batch's read and its write:
		// that row must be skipped, not overwritten.
		concurrent := fmt.Sprintf(`{"tax_id":%q}`, mustEncrypt(t, k, "cmp_a", "cus_02", "tax_id", "DE 002-002"))
		k.reencryptHook = func() {
			k.reencryptHook = nil
			if _, err := d.ExecContext(ctx, "UPDATE crypt_docs SET doc = $1, version = version + 1 WHERE id = 'cus_02'", concurrent); err != nil {
				t.Error(err)
			}
		}
		n, err := Reencrypt(ctx, k, target)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 { // cmp_a owns cus_00, 02, 04, 06; cus_02 was skipped
			t.Fatalf("rewrote %d rows, want 3", n)
		}
		after := f.rows(t)
		for id, before := range f.before {
			row := after[id]
			if id == "cus_02" {
				if row.doc != concurrent || row.version != 2 {
					t.Fatalf("the concurrent write was overwritten: %s", row.doc)
				}
				continue
			}
			if row.version != 1 {
				t.Fatalf("%s: version %d, want 1 (content unchanged)", id, row.version)
			}
			if shape(row.doc) != shape(before) {
				t.Fatalf("%s: clear bytes changed:\n%s\n%s", id, shape(before), shape(row.doc))
			}
			var a, b any
			if json.Unmarshal([]byte(row.doc), &a) != nil || json.Unmarshal([]byte(before), &b) != nil {
				t.Fatalf("%s: not JSON any more", id)
			}
			kids := f.checkValues(t, id, row.doc)
			for _, kid := range kids {
				if id[len(id)-1]%2 == 0 && kid != newA {
					t.Fatalf("%s: value under %s, want the new key %s", id, kid, newA)
				}
				if id[len(id)-1]%2 == 1 && kid != oldB {
					t.Fatalf("%s: cmp_b's value moved to %s, want %s", id, kid, oldB)
				}
			}
			if (id[len(id)-1]%2 == 1) != (row.doc == before) {
				t.Fatalf("%s: rewritten %v", id, row.doc != before)
			}
		}
		// Idempotent: nothing left to do.
		if n, err := Reencrypt(ctx, k, target); err != nil || n != 0 {
			t.Fatalf("second run rewrote %d (%v)", n, err)
		}

		// After a master rotation only the blind indexes change.
		if err := k.RotateMaster(ctx, randomMaster(t)); err != nil {
			t.Fatal(err)
		}
		if n, err := Reencrypt(ctx, k, target); err != nil || n != len(f.before) {
			t.Fatalf("reindex rewrote %d (%v), want %d", n, err, len(f.before))
		}
		for id, row := range f.rows(t) {
			tax := f.plain[id]["tax_id"]
			if row.index != k.BlindIndex("tax_id", tax) {
				t.Fatalf("%s: index not recomputed", id)
			}
			if !slices.Contains(k.BlindIndexCandidates("tax_id", strings.ToLower(tax)), row.index) {
				t.Fatalf("%s: candidates miss the index", id)
			}
			if id != "cus_02" && row.doc != after[id].doc {
				t.Fatalf("%s: document changed by a master rotation", id)
			}
		}

		// A Value hook: index what it returns, skip what it refuses.
		hooked := target
		hooked.BlindIndexes = []BlindIndexColumn{{Column: "tax_idx", Path: []string{"tax_id"}, Field: "tax_id",
			Value: func(p string) (string, bool) { return "hooked " + p, !strings.HasSuffix(p, "001-001") }}}
		if n, err := Reencrypt(ctx, k, hooked); err != nil || n != len(f.before)-1 {
			t.Fatalf("hooked reindex rewrote %d (%v), want %d", n, err, len(f.before)-1)
		}
		for id, row := range f.rows(t) {
			want := k.BlindIndex("tax_id", "hooked "+f.plain[id]["tax_id"])
			if id == "cus_01" {
				want = k.BlindIndex("tax_id", f.plain[id]["tax_id"])
			}
			if row.index != want {
				t.Fatalf("%s: hooked index not as expected", id)
			}
		}
		if _, err := Reencrypt(ctx, k, target); err != nil {
			t.Fatal(err)
		}

		// Erased values stay as they are; other rows are unaffected.
		if err := k.DestroyOwner(ctx, "cmp_b"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.RotateOwner(ctx, "cmp_a"); err != nil {
			t.Fatal(err)
		}
		// cmp_a's four rows, cus_02 included now that its writer is done.
		if n, err := Reencrypt(ctx, k, target); err != nil || n != 4 {
			t.Fatalf("after erasure rewrote %d (%v), want 4", n, err)
		}
		for id, row := range f.rows(t) {
			if id[len(id)-1]%2 == 1 && row.doc != after[id].doc {
				t.Fatalf("%s: erased row rewritten", id)
			}
		}

		// A value that does not authenticate stops the run, naming the row.
		if _, err := d.ExecContext(ctx, "UPDATE crypt_docs SET doc = $1 WHERE id = 'cus_00'",
			fmt.Sprintf(`{"tax_id":%q}`, mustEncrypt(t, k, "cmp_a", "cus_04", "tax_id", "moved"))); err != nil {
			t.Fatal(err)
		}
		if _, err := k.RotateOwner(ctx, "cmp_a"); err != nil {
			t.Fatal(err)
		}
		if _, err := Reencrypt(ctx, k, target); err == nil || !strings.Contains(err.Error(), "cus_00") {
			t.Fatalf("moved value: %v", err)
		}
		bad := target
		bad.Table = "crypt_docs; DROP TABLE data_keys"
		if _, err := Reencrypt(ctx, k, bad); err == nil {
			t.Fatal("accepted an injected table name")
		}
	})
}

// Nothing secret reaches the database: not the plaintexts, not the data
// keys in clear. Read as the tables hold them, and on SQLite as the files
// on disk hold them.
func TestDatabaseHoldsNoSecrets(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		master := randomMaster(t)
		k := NewKeyring(d, master)
		f := newDocFixture(t, d, k, 6)
		if _, err := k.RotateOwner(ctx, "cmp_a"); err != nil {
			t.Fatal(err)
		}
		if _, err := Reencrypt(ctx, k, target); err != nil {
			t.Fatal(err)
		}
		var secrets [][]byte
		for _, fields := range f.plain {
			for _, p := range fields {
				secrets = append(secrets, []byte(p), []byte(Normalize(p)))
			}
		}
		k.mu.Lock()
		var kids []string
		for kid := range k.keys.items {
			kids = append(kids, kid)
		}
		k.mu.Unlock()
		if len(kids) < 3 {
			t.Fatalf("%d data keys cached, want 3", len(kids))
		}
		for _, kid := range kids {
			secrets = append(secrets, rawKeyOf(t, k, kid))
		}
		secrets = append(secrets, master, DeriveKey(master, purposeWrap), DeriveKey(master, PurposeBlindIndex))

		var dump bytes.Buffer
		for _, q := range []string{
			"SELECT kid || owner || master_kid, wrapped FROM data_keys",
			"SELECT id, doc || tax_idx FROM crypt_docs",
		} {
			rows, err := d.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var a string
				var b []byte
				if err := rows.Scan(&a, &b); err != nil {
					t.Fatal(err)
				}
				dump.WriteString(a)
				dump.Write(b)
			}
			rows.Close()
		}
		if !bytes.Contains(dump.Bytes(), []byte("enc:v1:")) || dump.Len() < 1000 {
			t.Fatal("the dump did not read the data")
		}
		if d.Engine() == db.SQLite {
			for _, suffix := range []string{"", "-wal"} {
				b, err := os.ReadFile(d.Path() + suffix)
				if err == nil {
					dump.Write(b)
				}
			}
		}
		for _, s := range secrets {
			if len(s) < 4 {
				continue
			}
			if bytes.Contains(dump.Bytes(), s) {
				t.Fatalf("the database holds a secret: %q", s)
			}
		}
	})
}

// rawKeyOf unwraps a data key the way the keyring does, for the scan.
func rawKeyOf(t *testing.T, k *Keyring, kid string) []byte {
	t.Helper()
	r, err := scanKey(k.d.QueryRowContext(context.Background(), "SELECT "+keyColumns+" FROM data_keys WHERE kid = $1", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := k.unwrapRaw(r)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
