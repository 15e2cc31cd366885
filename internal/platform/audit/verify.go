package audit

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// FindingKind names what Verify found wrong.
type FindingKind string

// The findings.
const (
	// RowEdited: a row's hash does not match its contents (or its digest
	// or prev_hash is not a hash at all).
	RowEdited FindingKind = "row_edited"
	// PersonalDataEdited: a row's IP address, user agent or on-behalf-of
	// no longer match the digest taken when it was linked.
	PersonalDataEdited FindingKind = "personal_data_edited"
	// RowDeleted: positions are missing (Seq is the first missing one).
	RowDeleted FindingKind = "row_deleted"
	// ChainBroken: a row's prev_hash is not the hash of the row before it
	// although no position is missing: rows deleted and renumbered, or a
	// row re-hashed.
	ChainBroken FindingKind = "chain_broken"
	// RowUnhashed: a row inside the chain has no hash.
	RowUnhashed FindingKind = "row_unhashed"
	// TailCut: a signed checkpoint names a position past the last row.
	TailCut FindingKind = "tail_cut"
	// CheckpointMismatch: a signed checkpoint names a hash the row at its
	// position no longer has: the chain was rewritten from there on.
	CheckpointMismatch FindingKind = "checkpoint_mismatch"
	// CheckpointBadSignature: a checkpoint's signature does not verify
	// under the key (edited, forged, or signed with another master key).
	CheckpointBadSignature FindingKind = "checkpoint_bad_signature"
)

// Finding is one problem, at a position of the log.
type Finding struct {
	Kind   FindingKind `json:"kind"`
	Seq    int64       `json:"seq"`
	Detail string      `json:"detail"`
}

func (f Finding) String() string { return fmt.Sprintf("%s at seq %d: %s", f.Kind, f.Seq, f.Detail) }

// MaxFindings bounds the findings a Report lists; more are only counted.
const MaxFindings = 1000

// Report is what Verify found.
type Report struct {
	// Start is the signed start the chain was verified from after pruning;
	// nil when it was verified from position 1.
	Start *Checkpoint `json:"start,omitempty"`
	// Head is the newest head checkpoint that verified and matched.
	Head *Checkpoint `json:"head,omitempty"`
	// First and Last are the positions of the first and last rows walked.
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	Rows  int64 `json:"rows"`
	// Checkpoints counts the checkpoints checked.
	Checkpoints int64 `json:"checkpoints"`
	// Unchained counts the leading rows numbered before a chain key was
	// configured: not tampering, but not protected either.
	Unchained int64 `json:"unchained"`
	// Erased counts rows whose personal data was erased (legitimately: the
	// digest kept them verifiable).
	Erased       int64     `json:"erased"`
	Findings     []Finding `json:"findings"`
	MoreFindings int64     `json:"more_findings,omitempty"`
}

// String is the report for people (mainstay audit verify prints it).
func (r *Report) String() string {
	var b strings.Builder
	from := "from the first row"
	if r.Start != nil {
		from = fmt.Sprintf("from the signed start at seq %d (pruned before)", r.Start.Seq)
	}
	fmt.Fprintf(&b, "%d rows (seq %d to %d) verified %s; %d checkpoints checked", r.Rows, r.First, r.Last, from, r.Checkpoints)
	if r.Head != nil {
		fmt.Fprintf(&b, "; newest signed head: seq %d, hash %s, key %s, at %s", r.Head.Seq, r.Head.Hash, r.Head.KeyID, r.Head.CreatedAt.Format(time.RFC3339))
	}
	b.WriteString(".\n")
	if r.Unchained > 0 {
		fmt.Fprintf(&b, "%d rows were numbered before a chain key was configured and are not protected.\n", r.Unchained)
	}
	if r.Erased > 0 {
		fmt.Fprintf(&b, "%d rows had their personal data erased.\n", r.Erased)
	}
	for _, f := range r.Findings {
		b.WriteString(f.String() + "\n")
	}
	if r.MoreFindings > 0 {
		fmt.Fprintf(&b, "… and %d more findings.\n", r.MoreFindings)
	}
	if r.OK() {
		b.WriteString("OK: no tampering found.\n")
	} else {
		fmt.Fprintf(&b, "TAMPERED: %d findings.\n", int64(len(r.Findings))+r.MoreFindings)
	}
	return b.String()
}

// OK reports whether the chain verified without findings.
func (r *Report) OK() bool { return len(r.Findings) == 0 && r.MoreFindings == 0 }

func (r *Report) add(kind FindingKind, seq int64, format string, args ...any) {
	if len(r.Findings) >= MaxFindings {
		r.MoreFindings++
		return
	}
	r.Findings = append(r.Findings, Finding{Kind: kind, Seq: seq, Detail: fmt.Sprintf(format, args...)})
}

// verifyBatch is how many rows or checkpoints Verify reads per query.
const verifyBatch = 1000

// Verify walks the audit chain and its checkpoints under the keys derived
// from masterKey and reports every edited, deleted or unhashed row, a cut
// tail, and checkpoints that are forged or no longer match. It streams in
// batches, so its memory does not grow with the log. Rows numbered after
// it starts are not looked at. Do not run it while Prune deletes rows: it
// could report rows deleted under it.
func Verify(ctx context.Context, q db.Querier, masterKey []byte) (Report, error) {
	var rep Report
	k, err := deriveKeys(masterKey)
	if err != nil {
		return rep, err
	}
	// Checkpoints first, then the head: a checkpoint is written in the
	// pass that links its row or later, so every checkpoint seen now names
	// a row that is visible by the time the head is read.
	var maxCheckpoint, head int64
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM audit_checkpoints").Scan(&maxCheckpoint); err != nil {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_log").Scan(&head); err != nil {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	if err := findStart(ctx, q, k, maxCheckpoint, &rep); err != nil {
		return rep, err
	}

	w := walker{k: k, rep: &rep, expect: 1, prev: genesis}
	if rep.Start != nil {
		w.expect, w.prev, w.begun = rep.Start.Seq, rep.Start.Hash, rep.Start.Hash != genesis
	}
	w.cps = checkpointStream{q: q, maxID: maxCheckpoint, seq: w.expect - 1, id: 1<<63 - 1}
	after := w.expect - 1
	for after < head {
		rows, err := readChainRows(ctx, q, after, head, verifyBatch)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: %w", err)
		}
		for i := range rows {
			if err := w.row(ctx, &rows[i]); err != nil {
				return rep, err
			}
		}
		if len(rows) < verifyBatch {
			break
		}
		after = rows[len(rows)-1].seq
	}
	if err := w.end(ctx); err != nil {
		return rep, err
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	return rep, nil
}

// findStart picks the newest start checkpoint that verifies; forged ones
// are findings. Start checkpoints are few (Prune removes the older ones).
func findStart(ctx context.Context, q db.Querier, k *keys, maxID int64, rep *Report) error {
	rows, err := q.QueryContext(ctx, "SELECT "+checkpointColumns+` FROM audit_checkpoints
WHERE kind = 'start' AND id <= $1 ORDER BY seq DESC, id DESC`, maxID)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	starts, err := scanCheckpoints(rows)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	for i := range starts {
		c := &starts[i]
		rep.Checkpoints++
		switch {
		case !c.valid(k):
			rep.add(CheckpointBadSignature, c.Seq, "the start checkpoint %d (key %s) does not verify", c.id, c.KeyID)
		case rep.Start == nil:
			rep.Start = c
		}
	}
	return nil
}

// checkpointStream reads head checkpoints in (seq, id) order, in batches.
type checkpointStream struct {
	q       db.Querier
	maxID   int64
	seq, id int64 // position of the last one read
	buf     []Checkpoint
	done    bool
}

// peek returns the next checkpoint, or nil at the end.
func (s *checkpointStream) peek(ctx context.Context) (*Checkpoint, error) {
	if len(s.buf) == 0 && !s.done {
		rows, err := s.q.QueryContext(ctx, "SELECT "+checkpointColumns+` FROM audit_checkpoints
WHERE kind = 'head' AND id <= $1 AND (seq > $2 OR (seq = $2 AND id > $3))
ORDER BY seq, id LIMIT $4`, s.maxID, s.seq, s.id, verifyBatch)
		if err != nil {
			return nil, fmt.Errorf("verify audit checkpoints: %w", err)
		}
		if s.buf, err = scanCheckpoints(rows); err != nil {
			return nil, err
		}
		s.done = len(s.buf) < verifyBatch
		if n := len(s.buf); n > 0 {
			s.seq, s.id = s.buf[n-1].Seq, s.buf[n-1].id
		}
	}
	if len(s.buf) == 0 {
		return nil, nil
	}
	return &s.buf[0], nil
}

func (s *checkpointStream) pop() { s.buf = s.buf[1:] }

// walker checks rows in position order against the chain and the head
// checkpoints.
type walker struct {
	k      *keys
	rep    *Report
	cps    checkpointStream
	expect int64  // the position the next row should have
	prev   string // the hash the next row's prev_hash should be
	begun  bool   // a hashed row has been seen (or the start names one)
	last   *chainRow
}

func (w *walker) row(ctx context.Context, r *chainRow) error {
	rep := w.rep
	// Checkpoints before this row name positions that are missing; the gap
	// is reported below, so only their signatures are checked.
	if err := w.checkpointsBefore(ctx, r.seq, nil); err != nil {
		return err
	}
	if rep.Rows == 0 {
		rep.First = r.seq
	}
	rep.Rows++
	rep.Last = r.seq
	gap := r.seq > w.expect
	if gap {
		if r.seq-1 == w.expect {
			rep.add(RowDeleted, w.expect, "row %d is missing", w.expect)
		} else {
			rep.add(RowDeleted, w.expect, "rows %d to %d are missing", w.expect, r.seq-1)
		}
	}
	w.expect = r.seq + 1
	if !r.hash.Valid {
		if w.begun {
			rep.add(RowUnhashed, r.seq, "the row has no hash inside the chain")
		} else {
			rep.Unchained++
		}
		// The linker starts again from genesis after an unhashed row.
		w.prev, w.last = genesis, r
		return w.checkpointsAt(ctx, r)
	}
	w.begun = true
	if !gap && r.prev.String != w.prev {
		rep.add(ChainBroken, r.seq, "prev_hash does not match the hash of row %d", r.seq-1)
	}
	prev, perr := hex.DecodeString(r.prev.String)
	digest, derr := hex.DecodeString(r.digest.String)
	switch {
	case perr != nil || len(prev) != 32:
		rep.add(RowEdited, r.seq, "prev_hash is not a SHA-256 hash")
	case derr != nil || len(digest) != 32:
		rep.add(RowEdited, r.seq, "the personal data digest is missing or not a digest")
	default:
		if hex.EncodeToString(rowHash(prev, r, digest)) != r.hash.String {
			rep.add(RowEdited, r.seq, "the row's contents do not match its hash")
		}
		if r.erased.Valid {
			rep.Erased++
			if r.ip != "" || r.userAgent != "" || r.onBehalfOf != "" {
				rep.add(PersonalDataEdited, r.seq, "personal data was erased, yet the row carries some")
			}
		} else if !hmac.Equal(personalDigest(w.k.chain, r), digest) {
			rep.add(PersonalDataEdited, r.seq, "the IP address, user agent or on-behalf-of do not match their digest")
		}
	}
	w.prev, w.last = r.hash.String, r
	return w.checkpointsAt(ctx, r)
}

// checkpointsBefore consumes the head checkpoints before position seq,
// checking their signatures; each valid one is passed to fn (nil: ignored).
func (w *walker) checkpointsBefore(ctx context.Context, seq int64, fn func(*Checkpoint)) error {
	for {
		c, err := w.cps.peek(ctx)
		if err != nil || c == nil || c.Seq >= seq {
			return err
		}
		w.rep.Checkpoints++
		if !c.valid(w.k) {
			w.rep.add(CheckpointBadSignature, c.Seq, "the head checkpoint %d (key %s) does not verify", c.id, c.KeyID)
		} else if fn != nil {
			fn(c)
		}
		w.cps.pop()
	}
}

// checkpointsAt checks the head checkpoints at r's position against r.
func (w *walker) checkpointsAt(ctx context.Context, r *chainRow) error {
	return w.checkpointsBefore(ctx, r.seq+1, func(c *Checkpoint) {
		if c.Seq != r.seq {
			return
		}
		if !r.hash.Valid || c.Hash != r.hash.String {
			w.rep.add(CheckpointMismatch, c.Seq, "the checkpoint signed hash %s, the row now has %s", short(c.Hash), short(r.hash.String))
			return
		}
		cp := *c
		w.rep.Head = &cp
	})
}

// end checks what lies past the last row: a valid checkpoint there means
// rows were cut from the tail.
func (w *walker) end(ctx context.Context) error {
	var beyond *Checkpoint
	if err := w.checkpointsBefore(ctx, 1<<63-1, func(c *Checkpoint) {
		cp := *c
		beyond = &cp
	}); err != nil {
		return err
	}
	lastSeq := w.expect - 1
	switch {
	case beyond != nil:
		w.rep.add(TailCut, lastSeq+1, "a signed checkpoint names row %d, but the log ends at row %d", beyond.Seq, lastSeq)
	case w.rep.Start != nil && w.last == nil:
		w.rep.add(TailCut, w.rep.Start.Seq, "the signed start names row %d, but no row from there on remains", w.rep.Start.Seq)
	}
	return nil
}

func short(h string) string {
	if h == "" {
		return "(none)"
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
