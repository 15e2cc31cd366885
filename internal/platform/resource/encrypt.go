package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
)

// Encryption at rest of sensitive members (Spec.Encrypted): in the stored
// document each such member is replaced by an envelope-encrypted string
// (crypto.Keyring), under a data key owned by the record itself — so
// erasing a person destroys one key and nothing else — and bound to the
// record id and member name, so a value cannot be moved. Searchable
// members are projected as a blind index (Column.Blind), never in clear.
// Events carry no sensitive member (their delivery is not scope-filtered
// yet), so the outbox holds none in clear either.

// SetKeyring turns on field encryption for resources that declare
// encrypted members. Call it before registering resources.
func (e *Engine) SetKeyring(k *crypto.Keyring) { e.keyring = k }

// Keyring is the engine's keyring, nil without encryption.
func (e *Engine) Keyring() *crypto.Keyring { return e.keyring }

// seal returns v's stored document, with encrypted members sealed.
func (r *Resource[T, PT]) seal(ctx context.Context, v *T, recordID string) ([]byte, error) {
	if len(r.spec.Encrypted) == 0 || r.e.keyring == nil {
		return json.Marshal(v)
	}
	m := map[string]json.RawMessage{}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, member := range r.spec.Encrypted {
		raw, ok := m[member]
		if !ok {
			continue
		}
		sealed, err := r.e.keyring.Encrypt(ctx, recordID, recordID, member, string(raw))
		if errors.Is(err, crypto.ErrDestroyed) {
			return nil, apperr.New(apperr.Conflict, "The personal data of %s was erased; %s cannot be stored for it again.", recordID, member).
				WithFields(apperr.FieldError{Pointer: "/" + member, Detail: "the record's personal data was erased"})
		}
		if err != nil {
			return nil, fmt.Errorf("encrypt %s of %s: %w", member, recordID, err)
		}
		m[member], _ = json.Marshal(sealed)
	}
	return json.Marshal(m)
}

// open decodes a stored document into v, decrypting sealed members; a
// member whose key was destroyed (erased) is left out.
func (r *Resource[T, PT]) open(ctx context.Context, doc []byte, recordID string, v *T) error {
	if len(r.spec.Encrypted) == 0 || r.e.keyring == nil {
		return json.Unmarshal(doc, v)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(doc, &m); err != nil {
		return err
	}
	for _, member := range r.spec.Encrypted {
		raw, ok := m[member]
		if !ok {
			continue
		}
		var sealed string
		if json.Unmarshal(raw, &sealed) != nil || !crypto.IsEncrypted(sealed) {
			continue // written before encryption was on; served as stored
		}
		plain, err := r.e.keyring.Decrypt(ctx, recordID, member, sealed)
		if errors.Is(err, crypto.ErrDestroyed) {
			delete(m, member)
			continue
		}
		if err != nil {
			return fmt.Errorf("decrypt %s of %s: %w", member, recordID, err)
		}
		m[member] = json.RawMessage(plain)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// blind returns what a Blind column stores for a value.
func (e *Engine) blind(member, value string) string {
	if value == "" || e.keyring == nil {
		return value
	}
	return e.keyring.BlindIndex(member, value)
}

// withoutSensitive is a record's representation for events: every
// sensitive member removed.
func (r *Resource[T, PT]) withoutSensitive(v *T) any {
	if len(r.spec.Sensitive) == 0 {
		return v
	}
	m, err := toMap(v)
	if err != nil {
		return v
	}
	for member := range r.spec.Sensitive {
		delete(m, member)
	}
	return m
}
