package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Normalize is what a blind index is computed over, so that one
// identifier typed several ways ("DE 123-456", "de123456") finds the same
// record. It trims the value, upper-cases it (Unicode simple case
// mapping) and removes
//   - white space anywhere (unicode.IsSpace: spaces, tabs, no-break spaces),
//   - dashes: the hyphen-minus and every Unicode dash punctuation (Pd:
//     hyphen, en and em dashes…) and the minus sign U+2212,
//   - invisible format characters (Cf: soft hyphen, zero-width space and
//     joiners, byte-order mark), which copy and paste brings in unseen.
//
// Everything else is kept, dots and slashes included: they are part of
// some identifiers, and a normalization that merged distinct values would
// make a look-up find the wrong record.
func Normalize(value string) string {
	value = strings.ToUpper(strings.TrimSpace(value))
	var b strings.Builder
	b.Grow(len(value))
	for _, r := range value {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '\u2212' || unicode.Is(unicode.Cf, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BlindIndex is a keyed, deterministic digest of a field's value, stored
// beside the encrypted value so that an exact look-up ("which customer
// has this tax id?") needs no decryption: HMAC-SHA256 under
// DeriveKey(master, "blind-index") over the field name (length-prefixed)
// and Normalize(value), in hex. Different fields give different indexes
// for one value. Without the master key the index cannot be computed from
// a guess, but equal values have equal indexes: put the company in field
// ("cmp_…/tax_id") to keep companies' indexes apart. It is empty when the
// keyring has no valid master key (Verify reports it).
func (k *Keyring) BlindIndex(field, value string) string {
	k.mu.Lock()
	m := k.master
	k.mu.Unlock()
	if m == nil {
		return ""
	}
	return blindIndex(m.blind, field, value)
}

// BlindIndexCandidates returns the blind index under the current master
// key and then under each previous one. While Reencrypt recomputes the
// stored indexes after RotateMaster, a look-up matches any of them.
func (k *Keyring) BlindIndexCandidates(field, value string) []string {
	k.mu.Lock()
	ms := make([]*masterKey, 0, 1+len(k.previous))
	if k.master != nil {
		ms = append(ms, k.master)
	}
	ms = append(ms, k.previous...)
	k.mu.Unlock()
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, blindIndex(m.blind, field, value))
	}
	return out
}

func blindIndex(key []byte, field, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write(appendLP(nil, field))
	m.Write([]byte(Normalize(value)))
	return hex.EncodeToString(m.Sum(nil))
}
