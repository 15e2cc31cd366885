// Package crypto is field-level encryption at rest (DESIGN §5 "Sensitive
// fields", §7): AES-256-GCM envelope encryption with a data key per owner
// (a company, or a person for personal data), blind indexes for exact
// look-ups of encrypted fields, key rotation and crypto-shredding.
//
// The master key (32 bytes, from a file or an environment variable) is
// never stored. Keys are derived from it with HKDF for each purpose
// (DeriveKey): one wraps data keys, one computes blind indexes, and other
// packages derive their own (audit chain, page tokens). Data keys are
// random, kept in the data_keys table wrapped under the derived wrapping
// key, with the wrapped bytes bound to the key's kid and owner.
//
// An encrypted value is a string:
//
//	enc:v1:<kid>:<base64url without padding of nonce(12) ‖ ciphertext ‖ tag(16)>
//
// The kid names the data key and, through data_keys, its owner, so a
// value can be re-encrypted or erased knowing nothing else. The record id
// and the field name are bound as associated data (length-prefixed), so
// a value copied to another record or field does not decrypt.
//
// Rotation: RotateOwner gives an owner a new current key (old keys still
// decrypt) and Reencrypt moves a table's values to it online;
// RotateMaster re-wraps every data key under a new master key. Erasure:
// DestroyOwner destroys an owner's keys, after which its values read as
// ErrDestroyed while the rows that hold them stay intact.
package crypto
