package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// JWS algorithms accepted from others: clients sign assertions with EdDSA
// or ES256; outside issuers may also use RS256. Never "none", never HS*:
// a symmetric algorithm would let anyone holding the public key forge.
const (
	algEdDSA = "EdDSA"
	algES256 = "ES256"
	algRS256 = "RS256"
)

// RSA moduli outside this range are refused: small ones are breakable,
// huge ones make every verification a denial of service.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// verifyKey is a public key and the one algorithm it may verify (RFC 8725
// §3.1: the algorithm comes from the key, never from the token's header).
type verifyKey struct {
	kid string
	alg string
	key crypto.PublicKey // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
}

// jsonWebKey is the subset of RFC 7517 members read or written here.
type jsonWebKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	D   string `json:"d,omitempty"` // read only to refuse private keys
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

var b64 = base64.RawURLEncoding

// parseJWK turns a public JWK into a verifyKey. The algorithm follows from
// the key type and curve; a JWK "alg" that says otherwise is refused, not
// obeyed. RSA keys are accepted only when allowRSA is set (outside
// issuers; clients register Ed25519 or P-256 keys).
func parseJWK(j jsonWebKey, allowRSA bool) (verifyKey, error) {
	if j.D != "" {
		return verifyKey{}, errors.New("this is a private key; register only its public half")
	}
	if j.Use != "" && j.Use != "sig" {
		return verifyKey{}, fmt.Errorf("key use %q is not sig", j.Use)
	}
	var k verifyKey
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		x, err := b64.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return verifyKey{}, errors.New("an Ed25519 JWK needs a 32-byte x")
		}
		k = verifyKey{alg: algEdDSA, key: ed25519.PublicKey(x), kid: thumbprint(x)}
	case j.Kty == "EC" && j.Crv == "P-256":
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return verifyKey{}, errors.New("a P-256 JWK needs 32-byte x and y")
		}
		// Checks that the point is on the curve: an off-curve point is the
		// classic invalid-curve attack.
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return verifyKey{}, fmt.Errorf("P-256 key: %w", err)
		}
		k = verifyKey{alg: algES256, key: pub, kid: ecThumbprint(x, y)}
	case j.Kty == "RSA" && allowRSA:
		pub, err := rsaKey(j.N, j.E)
		if err != nil {
			return verifyKey{}, err
		}
		k = verifyKey{alg: algRS256, key: pub, kid: rsaThumbprint(j.N, j.E)}
	default:
		return verifyKey{}, fmt.Errorf("unsupported key type %q (curve %q)", j.Kty, j.Crv)
	}
	if j.Alg != "" && j.Alg != k.alg {
		return verifyKey{}, fmt.Errorf("key algorithm %q does not fit a %s key (want %s)", j.Alg, j.Kty, k.alg)
	}
	if j.Kid != "" {
		k.kid = j.Kid
	}
	return k, nil
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	n, err1 := b64.DecodeString(n64)
	e, err2 := b64.DecodeString(e64)
	if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("an RSA JWK needs n and a short e")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	for _, b := range e {
		pub.E = pub.E<<8 | int(b)
	}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA key of %d bits is outside %d..%d", bits, minRSABits, maxRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("RSA exponent must be odd and at least 3")
	}
	return pub, nil
}

// ecThumbprint and rsaThumbprint are RFC 7638 thumbprints, like thumbprint
// for Ed25519: members in lexicographic order, no spaces.
func ecThumbprint(x, y []byte) string {
	return sha256B64(`{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`)
}

func rsaThumbprint(n64, e64 string) string {
	return sha256B64(`{"e":"` + e64 + `","kty":"RSA","n":"` + n64 + `"}`)
}

func sha256B64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

// maxClientKeyLen bounds a registered key's text; a P-256 PEM is ~180
// bytes, a JWK with a long kid well under 1 KiB.
const maxClientKeyLen = 4 << 10

// parseClientKey reads a client's public key, given as a PEM "PUBLIC KEY"
// block (SubjectPublicKeyInfo) or as a JWK, and returns it with its
// canonical public JWK, which is what is stored.
func parseClientKey(text string) (verifyKey, jsonWebKey, error) {
	text = strings.TrimSpace(text)
	if len(text) > maxClientKeyLen {
		return verifyKey{}, jsonWebKey{}, fmt.Errorf("the key is longer than %d bytes", maxClientKeyLen)
	}
	var j jsonWebKey
	switch {
	case strings.HasPrefix(text, "{"):
		if err := json.Unmarshal([]byte(text), &j); err != nil {
			return verifyKey{}, jsonWebKey{}, errors.New("the key is neither a PEM public key nor a JSON Web Key")
		}
	case strings.HasPrefix(text, "-----BEGIN"):
		block, rest := pem.Decode([]byte(text))
		switch {
		case block == nil || len(strings.TrimSpace(string(rest))) != 0:
			return verifyKey{}, jsonWebKey{}, errors.New("the key must be exactly one PEM block")
		case strings.Contains(block.Type, "PRIVATE"):
			return verifyKey{}, jsonWebKey{}, errors.New("this is a private key; register only its public half (-----BEGIN PUBLIC KEY-----)")
		case block.Type != "PUBLIC KEY":
			return verifyKey{}, jsonWebKey{}, fmt.Errorf("PEM block %q is not a PUBLIC KEY", block.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return verifyKey{}, jsonWebKey{}, fmt.Errorf("public key: %w", err)
		}
		switch pub := pub.(type) {
		case ed25519.PublicKey:
			j = jsonWebKey{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub)}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return verifyKey{}, jsonWebKey{}, errors.New("only P-256 ECDSA keys are accepted")
			}
			raw, err := pub.Bytes()
			if err != nil {
				return verifyKey{}, jsonWebKey{}, fmt.Errorf("public key: %w", err)
			}
			j = jsonWebKey{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:])}
		default:
			return verifyKey{}, jsonWebKey{}, fmt.Errorf("a %T key is not accepted; use Ed25519 or ECDSA P-256", pub)
		}
	default:
		return verifyKey{}, jsonWebKey{}, errors.New("the key is neither a PEM public key nor a JSON Web Key")
	}
	k, err := parseJWK(j, false)
	if err != nil {
		return verifyKey{}, jsonWebKey{}, err
	}
	if len(k.kid) > 200 || !printable(k.kid) {
		return verifyKey{}, jsonWebKey{}, errors.New("the key's kid must be at most 200 printable characters")
	}
	canon := jsonWebKey{Kty: j.Kty, Crv: j.Crv, X: j.X, Y: j.Y, Kid: k.kid, Alg: k.alg, Use: "sig"}
	return k, canon, nil
}
