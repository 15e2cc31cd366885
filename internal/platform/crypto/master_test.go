package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomMaster(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, MasterKeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadMasterKey(t *testing.T) {
	key := randomMaster(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := []struct{ name, file, env string }{
		{"file std padded", write("std", base64.StdEncoding.EncodeToString(key)+"\n"), ""},
		{"file url raw", write("url", "  "+base64.RawURLEncoding.EncodeToString(key)+"\r\n"), ""},
		{"env std raw", "", base64.RawStdEncoding.EncodeToString(key)},
		{"env url padded", "", base64.URLEncoding.EncodeToString(key)},
	}
	for _, c := range ok {
		got, err := LoadMasterKey(c.file, c.env)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(got, key) {
			t.Fatalf("%s: wrong key", c.name)
		}
	}

	short := base64.StdEncoding.EncodeToString(key[:16])
	bad := []struct {
		name, file, env, want string
	}{
		{"none", "", "", "no master key"},
		{"both", write("both", base64.StdEncoding.EncodeToString(key)), short, "only one"},
		{"short env", "", short, "16 bytes; want 32"},
		{"short file", write("short", short), "", "16 bytes; want 32"},
		{"not base64", "", "this is not base64!!", "not valid base64"},
		{"empty file", write("empty", "\n"), "", "empty"},
		{"zero", "", base64.StdEncoding.EncodeToString(make([]byte, 32)), "all zero"},
		{"missing file", filepath.Join(dir, "absent"), "", "no such file"},
	}
	for _, c := range bad {
		_, err := LoadMasterKey(c.file, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		// Errors never carry key material, in any encoding.
		for _, secret := range []string{short, base64.StdEncoding.EncodeToString(key), string(key[:16])} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("%s: error reveals the key: %v", c.name, err)
			}
		}
	}
	if _, err := LoadMasterKey("", ""); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("no key: %v, want ErrNoMasterKey", err)
	}
}

func TestGenerateMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	key, err := GenerateMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	loaded, err := LoadMasterKey(path, "")
	if err != nil || !bytes.Equal(loaded, key) {
		t.Fatalf("reload: %v (equal %v)", err, bytes.Equal(loaded, key))
	}
	if _, err := GenerateMasterKeyFile(path); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second generate: %v, want a refusal", err)
	}
	again, _ := LoadMasterKey(path, "")
	if !bytes.Equal(again, key) {
		t.Fatal("the key file changed")
	}
}

func TestDeriveKey(t *testing.T) {
	m1, m2 := randomMaster(t), randomMaster(t)
	a := DeriveKey(m1, PurposeBlindIndex)
	if len(a) != 32 || !bytes.Equal(a, DeriveKey(m1, PurposeBlindIndex)) {
		t.Fatal("derivation is not a deterministic 32-byte key")
	}
	seen := map[string]string{string(m1): "master"}
	for _, c := range []struct {
		master  []byte
		purpose string
	}{{m1, PurposeBlindIndex}, {m1, PurposeAuditChain}, {m1, PurposePageTokens}, {m1, purposeWrap}, {m2, PurposeBlindIndex}} {
		k := string(DeriveKey(c.master, c.purpose))
		if prev, dup := seen[k]; dup {
			t.Fatalf("%s derives the same key as %s", c.purpose, prev)
		}
		seen[k] = c.purpose
	}
	if masterID(m1) == masterID(m2) || !strings.HasPrefix(masterID(m1), "mk_") {
		t.Fatalf("master ids %s %s", masterID(m1), masterID(m2))
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"DE 123-456":            "DE123456",
		" de123456\n":           "DE123456",
		"de\u00a0123\u2013456":  "DE123456", // no-break space, en dash
		"de\u00ad123\u200b456":  "DE123456", // soft hyphen, zero-width space
		"12.345.678/0001-90":    "12.345.678/000190",
		"gb\t12 34 56 \u2212 7": "GB1234567",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBlindIndex(t *testing.T) {
	m := randomMaster(t)
	k := NewKeyring(nil, m) // blind indexes need no database
	a := k.BlindIndex("tax_id", "DE 123-456")
	if len(a) != 64 {
		t.Fatalf("index %q is not 32 bytes in hex", a)
	}
	if b := k.BlindIndex("tax_id", "de123456"); a != b {
		t.Fatalf("equivalent spellings index differently: %s %s", a, b)
	}
	if b := k.BlindIndex("tax_id", "DE 123-457"); a == b {
		t.Fatal("different values index alike")
	}
	if b := k.BlindIndex("vat_id", "DE 123-456"); a == b {
		t.Fatal("different fields index alike")
	}
	// Length prefixing: the field/value boundary cannot shift.
	if k.BlindIndex("tax", "_IDX") == k.BlindIndex("tax_", "IDX") {
		t.Fatal("field and value run together")
	}
	if b := NewKeyring(nil, randomMaster(t)).BlindIndex("tax_id", "DE 123-456"); a == b {
		t.Fatal("another master key gives the same index")
	}
	if strings.Contains(a, "DE123456") || strings.Contains(a, "de123456") {
		t.Fatal("the index contains the value")
	}
	if NewKeyring(nil, m[:16]).BlindIndex("tax_id", "x") != "" {
		t.Fatal("a keyring without a valid master computes indexes")
	}
}
