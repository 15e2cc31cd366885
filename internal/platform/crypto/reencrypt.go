package crypto

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// DefaultReencryptBatch is the number of rows Reencrypt reads and rewrites
// per transaction when Target.BatchSize is 0.
const DefaultReencryptBatch = 200

// Target is a table whose JSON documents hold encrypted values, for
// Reencrypt. Table and column names are SQL identifiers
// ([A-Za-z_][A-Za-z0-9_]*), checked before use.
type Target struct {
	Table         string // e.g. "customers"
	IDColumn      string // text primary key; rows are visited in its order
	VersionColumn string // integer every writer changes: the optimistic check
	DocColumn     string // the JSON document (TEXT, or JSONB on PostgreSQL)

	// RecordID gives the record id a row's values were bound to by
	// Encrypt, from the row's id. nil: the id itself.
	RecordID func(id string) string
	// Field gives the field name a value was bound to, from its place in
	// the document: member names and array indexes from the root, e.g.
	// ["tax_id"] or ["bank_accounts", "0", "iban"]. nil: the path joined
	// with dots ("tax_id", "bank_accounts.0.iban").
	Field func(path []string) string
	// BlindIndexes are columns holding a blind index of a document member;
	// Reencrypt recomputes any that differ, which is how indexes follow a
	// master key rotation.
	BlindIndexes []BlindIndexColumn
	// BatchSize is the number of rows per transaction; 0 means
	// DefaultReencryptBatch.
	BatchSize int
}

// BlindIndexColumn is a column holding BlindIndex(Field, value of the
// member at Path), the value decrypted first if it is encrypted.
type BlindIndexColumn struct {
	Column string
	Path   []string
	Field  string
	// Value turns the member's (decrypted) string into what was indexed,
	// false to leave the column as it is; nil: the string itself. For
	// callers that encrypt a member's JSON (`"DE123"`, quotes included)
	// but index its text.
	Value func(plain string) (string, bool)
}

// Reencrypt moves every encrypted value in the documents of a table to its
// owner's current data key (the owner comes from the value's kid, through
// data_keys), after RotateOwner; and recomputes the target's blind-index
// columns, after RotateMaster. It returns the number of rows rewritten.
//
// It runs while the server serves: rows are read outside any transaction,
// a batch at a time, and each batch is written in its own transaction
// where a row is updated only if its version is unchanged. A row changed
// meanwhile is skipped: its writer sealed what it wrote with the current
// key. The version is not bumped, because the record's content is the
// same and its ETag must not change. Values of destroyed keys stay as
// they are (erased); a value that does not authenticate stops the run
// with an error naming the row. Running it again is harmless and finishes
// an interrupted run.
//
// The document is rewritten by splicing: the JSON is read as a token
// stream (encoding/json's Decoder, with byte offsets) only to find string
// values and their paths, and the new ciphertexts replace the old string
// literals in the original bytes. Everything else — member order, white
// space, number spelling, escapes — is kept byte for byte, which decoding
// into maps and re-encoding would not do.
//
// Run it from its own context, not inside a transaction. Wait CacheTTL
// after RotateOwner first, so that no server still writes with the old key.
func Reencrypt(ctx context.Context, k *Keyring, t Target) (int, error) {
	if k.err != nil {
		return 0, k.err
	}
	if db.TxFrom(ctx) != nil {
		return 0, errors.New("reencrypt: runs its own transactions; call it outside one")
	}
	cols := []string{t.Table, t.IDColumn, t.VersionColumn, t.DocColumn}
	for _, bi := range t.BlindIndexes {
		cols = append(cols, bi.Column)
	}
	for _, c := range cols {
		if !isIdent(c) {
			return 0, fmt.Errorf("reencrypt: %q is not a plain SQL identifier", c)
		}
	}
	batch := t.BatchSize
	if batch <= 0 {
		batch = DefaultReencryptBatch
	}
	sel := "SELECT " + t.IDColumn + ", " + t.VersionColumn + ", " + t.DocColumn
	for _, bi := range t.BlindIndexes {
		sel += ", " + bi.Column
	}
	sel += " FROM " + t.Table + " WHERE " + t.IDColumn + " > $1 ORDER BY " + t.IDColumn + " LIMIT $2"

	total := 0
	after := ""
	for {
		rows, err := readBatch(ctx, k.d, sel, after, batch, len(t.BlindIndexes))
		if err != nil {
			return total, fmt.Errorf("reencrypt %s: %w", t.Table, err)
		}
		if len(rows) == 0 {
			return total, nil
		}
		after = rows[len(rows)-1].id
		var changes []rowChange
		for _, r := range rows {
			c, err := k.reencryptRow(ctx, t, r)
			if err != nil {
				return total, fmt.Errorf("reencrypt %s %s: %w", t.Table, r.id, err)
			}
			if c != nil {
				changes = append(changes, *c)
			}
		}
		if len(changes) > 0 {
			if k.reencryptHook != nil {
				k.reencryptHook()
			}
			n, err := writeBatch(ctx, k.d, t, changes)
			if err != nil {
				return total, fmt.Errorf("reencrypt %s: %w", t.Table, err)
			}
			total += n
		}
		if len(rows) < batch {
			return total, nil
		}
	}
}

type docRow struct {
	id      string
	version int64
	doc     []byte
	indexes []sql.NullString
}

type rowChange struct {
	id      string
	version int64
	doc     []byte            // nil: unchanged
	indexes map[string]string // column → new index
}

func readBatch(ctx context.Context, d *db.DB, sel, after string, limit, nIndexes int) ([]docRow, error) {
	// The read pool: never inside a transaction, so a long run holds no
	// locks and, on SQLite, does not occupy the single writer.
	rows, err := d.Read().QueryContext(ctx, sel, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	var out []docRow
	for rows.Next() {
		var r docRow
		var doc sql.NullString
		r.indexes = make([]sql.NullString, nIndexes)
		dest := []any{&r.id, &r.version, &doc}
		for i := range r.indexes {
			dest = append(dest, &r.indexes[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read rows: %w", err)
		}
		r.doc = []byte(doc.String)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return out, nil
}

func writeBatch(ctx context.Context, d *db.DB, t Target, changes []rowChange) (int, error) {
	var n int
	err := d.Transact(ctx, func(tx *db.Tx) error {
		n = 0
		for _, c := range changes {
			var sets []string
			var args []any
			if c.doc != nil {
				args = append(args, string(c.doc))
				sets = append(sets, t.DocColumn+" = $1")
			}
			for _, bi := range t.BlindIndexes {
				if v, ok := c.indexes[bi.Column]; ok {
					args = append(args, v)
					sets = append(sets, fmt.Sprintf("%s = $%d", bi.Column, len(args)))
				}
			}
			args = append(args, c.id, c.version)
			res, err := tx.ExecContext(ctx, "UPDATE "+t.Table+" SET "+strings.Join(sets, ", ")+
				fmt.Sprintf(" WHERE %s = $%d AND %s = $%d", t.IDColumn, len(args)-1, t.VersionColumn, len(args)), args...)
			if err != nil {
				return fmt.Errorf("update %s: %w", c.id, err)
			}
			m, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("update %s: %w", c.id, err)
			}
			n += int(m) // 0: changed meanwhile, skipped
		}
		return nil
	})
	return n, err
}

// reencryptRow works out a row's new document and indexes; nil if nothing
// changes.
func (k *Keyring) reencryptRow(ctx context.Context, t Target, r docRow) (*rowChange, error) {
	if len(bytes.TrimSpace(r.doc)) == 0 {
		return nil, nil
	}
	recordID := r.id
	if t.RecordID != nil {
		recordID = t.RecordID(r.id)
	}
	fieldOf := t.Field
	if fieldOf == nil {
		fieldOf = func(path []string) string { return strings.Join(path, ".") }
	}
	type splice struct {
		start, end int
		text       []byte
	}
	var splices []splice
	plain := map[int]string{} // blind index i → plaintext found at its path
	err := walkStrings(r.doc, func(s jsonString) error {
		var blind []int
		for i, bi := range t.BlindIndexes {
			if slices.Equal(bi.Path, s.path) {
				blind = append(blind, i)
			}
		}
		if !IsEncrypted(s.value) {
			for _, i := range blind {
				plain[i] = s.value
			}
			return nil
		}
		field := fieldOf(s.path)
		kid, sealed, _ := parseValue(s.value)
		dk, err := k.keyByKid(ctx, kid)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		if dk.destroyed {
			return nil // erased: nothing to move, nothing to index
		}
		cur, err := k.currentKey(ctx, dk.owner)
		if errors.Is(err, ErrDestroyed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		if cur.kid == dk.kid && len(blind) == 0 {
			return nil
		}
		p, err := openValue(dk, recordID, field, sealed)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		for _, i := range blind {
			plain[i] = p
		}
		if cur.kid == dk.kid {
			return nil
		}
		v, err := k.seal(cur, recordID, field, p)
		if err != nil {
			return err
		}
		text, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		splices = append(splices, splice{s.start, s.end, text})
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &rowChange{id: r.id, version: r.version}
	for i, bi := range t.BlindIndexes {
		p, ok := plain[i]
		if ok && bi.Value != nil {
			p, ok = bi.Value(p)
		}
		if !ok {
			continue // member absent, null or erased: leave the column be
		}
		if want := k.BlindIndex(bi.Field, p); !r.indexes[i].Valid || r.indexes[i].String != want {
			if c.indexes == nil {
				c.indexes = map[string]string{}
			}
			c.indexes[bi.Column] = want
		}
	}
	if len(splices) > 0 {
		var out bytes.Buffer
		out.Grow(len(r.doc) + 64*len(splices))
		last := 0
		for _, s := range splices { // in document order, never overlapping
			out.Write(r.doc[last:s.start])
			out.Write(s.text)
			last = s.end
		}
		out.Write(r.doc[last:])
		c.doc = out.Bytes()
	}
	if c.doc == nil && c.indexes == nil {
		return nil, nil
	}
	return c, nil
}

// jsonString is a string value (not a member name) of a document: its
// literal's byte range, quotes included, its path and its decoded value.
type jsonString struct {
	start, end int
	path       []string
	value      string
}

// walkStrings calls visit for every string value of a single JSON
// document, in document order. Byte offsets come from the decoder: before
// a token, InputOffset is the end of the previous one, and only white
// space and a ':' or ',' can lie between, so the token's opening quote is
// the first '"' after it.
func walkStrings(doc []byte, visit func(jsonString) error) error {
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	values := 0
	path := func() []string {
		p := make([]string, len(stack))
		for i, f := range stack {
			if f.object {
				p[i] = f.key
			} else {
				p[i] = strconv.Itoa(f.index)
			}
		}
		return p
	}
	// done marks the current slot of the enclosing container filled.
	done := func() {
		if len(stack) == 0 {
			values++
			return
		}
		top := &stack[len(stack)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		off := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("document is not valid JSON: %w", err)
		}
		if len(stack) == 0 && values > 0 {
			return errors.New("document holds more than one JSON value")
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, frame{object: v == '{', wantKey: v == '{'})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].key, stack[n-1].wantKey = v, false
				continue
			}
			q := bytes.IndexByte(doc[off:], '"')
			end := int(dec.InputOffset())
			if q < 0 || off+q >= end || doc[end-1] != '"' {
				return fmt.Errorf("cannot locate a string at offset %d", off)
			}
			if err := visit(jsonString{start: off + q, end: end, path: path(), value: v}); err != nil {
				return err
			}
			done()
		default:
			done()
		}
	}
	if len(stack) != 0 {
		return errors.New("document is not valid JSON: unexpected end")
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
