package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of a master key: 256 bits.
const MasterKeySize = 32

// Purposes for DeriveKey. Each use of the master key gets its own derived
// key, so that a weakness in one use (a leaked page-token key, say) says
// nothing about the others, and so that no key is used both as an AES key
// and as an HMAC key.
const (
	PurposeBlindIndex = "blind-index" // BlindIndex
	PurposeAuditChain = "audit-chain" // audit log chain and checkpoints
	PurposePageTokens = "page-tokens" // opaque pagination tokens

	purposeWrap     = "data-key-wrap" // wraps data keys
	purposeMasterID = "master-key-id" // fingerprint naming a master key
)

// ErrNoMasterKey means neither a key file nor an environment value was
// given. The caller knows the names of its settings and can say which to
// set (or generate a development key).
var ErrNoMasterKey = errors.New("no master key configured (want 32 random bytes in base64, e.g. from `openssl rand -base64 32`)")

// LoadMasterKey reads the master key from a file or from an environment
// variable's value: exactly one must be set. The key is 32 bytes in
// base64, standard or URL alphabet, padded or not; surrounding white space
// (a trailing newline) is ignored. Errors name the file but never contain
// key material.
//
// Setting both is refused rather than preferring one: a node that silently
// picked the other key would wrap new data keys under a master the rest of
// the cluster does not have.
func LoadMasterKey(file, envValue string) ([]byte, error) {
	switch {
	case file != "" && envValue != "":
		return nil, errors.New("master key: both a key file and an environment value are set; set only one")
	case file != "":
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read master key file: %w", err)
		}
		key, err := parseMasterKey(raw)
		if err != nil {
			return nil, fmt.Errorf("master key file %s: %w", file, err)
		}
		return key, nil
	case envValue != "":
		key, err := parseMasterKey([]byte(envValue))
		if err != nil {
			return nil, fmt.Errorf("master key from the environment: %w", err)
		}
		return key, nil
	}
	return nil, ErrNoMasterKey
}

// parseMasterKey decodes a base64 master key. Its errors describe the
// shape of the input (length, alphabet), never its content.
func parseMasterKey(raw []byte) ([]byte, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return nil, errors.New("empty; want 32 random bytes in base64")
	}
	var key []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			key = b
			break
		}
	}
	if key == nil {
		return nil, errors.New("not valid base64; want 32 random bytes in base64")
	}
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes; want %d", len(key), MasterKeySize)
	}
	if bytes.Equal(key, make([]byte, MasterKeySize)) {
		return nil, errors.New("is all zero bytes, a placeholder rather than a key")
	}
	return key, nil
}

// GenerateMasterKeyFile writes a new random master key to path (base64 and
// a newline, mode 0600), creating its directory (0700), and returns it. It
// is for development: it refuses to overwrite an existing file, since
// replacing a master key makes every encrypted value unreadable.
func GenerateMasterKeyFile(path string) ([]byte, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create master key directory: %w", err)
		}
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("master key file %s exists; refusing to overwrite it", path)
		}
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // a truncated key file is worse than none
		return nil, fmt.Errorf("write master key file %s: %w", path, err)
	}
	return key, nil
}

// DeriveKey derives a 32-byte key for one purpose from the master key
// (HKDF-SHA256, no salt, info "mainstay/" + purpose). The same master and
// purpose always give the same key, so every node derives it alike, and
// different purposes give independent keys.
//
// A derived key changes when the master key is rotated; whatever depends
// on it (blind indexes, signatures) must be recomputed or verified under
// the old master too.
func DeriveKey(master []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, "mainstay/"+purpose, 32)
	if err != nil {
		// HKDF fails only for outputs over 255 hash lengths, or, in FIPS
		// mode, for secrets under 112 bits; neither depends on the
		// request, so this is a misconfiguration worth stopping for.
		panic(fmt.Sprintf("crypto: derive %s key: %v", purpose, err))
	}
	return key
}

// masterID names a master key without revealing it: a fingerprint stored
// beside each wrapped data key.
func masterID(master []byte) string {
	return "mk_" + hex.EncodeToString(DeriveKey(master, purposeMasterID)[:8])
}
