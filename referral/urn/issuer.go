package urn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// MinKeyLen is the shortest key NewIssuer accepts.
	MinKeyLen = 16

	bits     = 44 // smallest even width with 2^bits >= Domain
	halfBits = bits / 2
	halfMask = 1<<halfBits - 1
	rounds   = 10

	// kdfLabel separates the AES key of this construction from any other
	// use of the same secret. Part of the format: changing it changes every
	// URN.
	kdfLabel = "molar referral URN v1: Feistel AES-256 round key"
)

// ErrCounterRange is returned for a counter outside [0, Domain).
var ErrCounterRange = errors.New("urn: counter out of range")

// Issuer maps counters to URNs with a keyed permutation. It holds no
// mutable state and is safe for concurrent use.
type Issuer struct {
	block cipher.Block
}

// NewKey returns a new random 32-byte Issuer key from crypto/rand.
func NewKey() []byte {
	k := make([]byte, 32)
	// crypto/rand.Read never fails (Go 1.24+: it crashes the program
	// rather than return short).
	_, _ = rand.Read(k)
	return k
}

// NewIssuer returns an Issuer for key, which must be at least MinKeyLen
// bytes of secret randomness (NewKey makes one). The same key always gives
// the same URNs.
func NewIssuer(key []byte) (*Issuer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("urn: new issuer: key has %d bytes, want at least %d", len(key), MinKeyLen)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kdfLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("urn: new issuer: %w", err)
	}
	return &Issuer{block: block}, nil
}

// URN returns the URN of counter n, which must be below Domain. Distinct
// counters give distinct URNs.
func (is *Issuer) URN(n uint64) (string, error) {
	if n >= Domain {
		return "", fmt.Errorf("urn: counter %d: %w (the domain has %d URNs)", n, ErrCounterRange, Domain)
	}
	buf := new(scratch) // one allocation: the AES blocks escape through cipher.Block
	// Cycle walking: the permutation of [0, 2^44) is re-applied until the
	// value is back inside [0, Domain). That terminates, since n itself lies
	// on the cycle and inside, and it is a permutation of [0, Domain).
	v := n
	for {
		v = is.permute(v, buf)
		if v < Domain {
			return encode(v), nil
		}
	}
}

// Counter returns the counter a URN was issued from: the inverse of URN. s
// may be in any form Normalize accepts, and must pass its checks. Whether the
// counter was ever allocated is for the caller to say.
func (is *Issuer) Counter(s string) (uint64, error) {
	n, err := Normalize(s)
	if err != nil {
		return 0, err
	}
	buf := new(scratch)
	v := decode(n)
	for {
		v = is.unpermute(v, buf)
		if v < Domain {
			return v, nil
		}
	}
}

// scratch holds the round function's input and output blocks.
type scratch struct {
	in, out [aes.BlockSize]byte
}

// permute is the Feistel network over [0, 2^44).
func (is *Issuer) permute(x uint64, buf *scratch) uint64 {
	l, r := uint32(x>>halfBits), uint32(x&halfMask)
	for i := 0; i < rounds; i++ {
		l, r = r, l^is.round(i, r, buf)
	}
	return uint64(l)<<halfBits | uint64(r)
}

// unpermute inverts permute.
func (is *Issuer) unpermute(x uint64, buf *scratch) uint64 {
	l, r := uint32(x>>halfBits), uint32(x&halfMask)
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^is.round(i, l, buf), l
	}
	return uint64(l)<<halfBits | uint64(r)
}

// round is the round function: AES of (round number, width, half) truncated
// to a half's 22 bits.
func (is *Issuer) round(i int, half uint32, buf *scratch) uint32 {
	buf.in = [aes.BlockSize]byte{0: byte(i), 1: bits}
	binary.BigEndian.PutUint32(buf.in[4:8], half)
	is.block.Encrypt(buf.out[:], buf.in[:])
	return binary.BigEndian.Uint32(buf.out[:4]) & halfMask
}
