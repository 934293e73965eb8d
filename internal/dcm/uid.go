package dcm

import (
	"crypto/rand"
	"crypto/sha1"
	"math/big"
)

// NewUID returns a fresh UID under the 2.25 arc (PS3.5 B.2): the decimal
// form of a random 128-bit UUID, unique without a registered root.
func NewUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0F | 0x40 // version 4
	b[8] = b[8]&0x3F | 0x80 // RFC 4122 variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}

// NameUID returns a UID derived from name (a name-based UUID, version 5
// style, under 2.25): the same name always gives the same UID, so seeded
// data can be written twice without duplicates.
func NameUID(name string) string {
	sum := sha1.Sum([]byte("molar:" + name))
	b := sum[:16]
	b[6] = b[6]&0x0F | 0x50
	b[8] = b[8]&0x3F | 0x80
	return "2.25." + new(big.Int).SetBytes(b).String()
}
