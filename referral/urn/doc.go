// Package urn makes and checks referral URNs (Unique Reference Numbers): the
// reference texted to the patient when a referral is sent, read back over
// the phone and typed into the public tracker, and used as the DICOM
// AccessionNumber of the referral's films.
//
// # Shape
//
// A URN is 10 characters from a 29-character alphabet,
//
//	23456789ABCDEFGHJKMNPQRSTVWXY
//
// which leaves out the characters people confuse when reading or hearing
// them: 0 and O, 1, I and L, U (V) and Z (2). The first character is always
// a letter, so a URN never looks like a number (an NHS number, a phone
// number) and never loses a leading zero in a spreadsheet. The first nine
// characters carry the payload: 21 letters × 29⁸ ≈ 1.05 × 10¹³ values, the
// Domain. The tenth is a check character.
//
// It is displayed in groups of 3, 3 and 4 characters, "VCH-K3P-J6DK", the
// grouping NHS numbers use, which reception staff already read out in that
// rhythm. Normalize accepts it with or without the hyphens, with spaces, and
// in lower case; the stored form (and the AccessionNumber) is the 10
// characters alone, upper case.
//
// # Check character
//
// With v₁…v₁₀ the characters' positions in the alphabet (0…28), a URN is
// well formed when
//
//	1·v₁ + 2·v₂ + … + 10·v₁₀ ≡ 0 (mod 29).
//
// 29 is prime, so the integers mod 29 are a field. Changing one character
// changes the sum by w·d, where the weight w is in 1…10 and the difference d
// is in ±1…±28; neither is a multiple of 29, so neither is their product:
// every single-character substitution is caught. Swapping neighbours i and
// i+1 with values a ≠ b changes the sum by (wᵢ − wᵢ₊₁)(a − b) = −(a − b),
// again not a multiple of 29: every adjacent transposition is caught. The
// check character is the only value that makes the sum vanish:
// v₁₀ = −(1·v₁ + … + 9·v₉)·10⁻¹, with 10⁻¹ ≡ 3 (mod 29).
//
// # Issuing
//
// An Issuer turns a counter n in [0, Domain) into a URN through a keyed
// permutation of [0, Domain), so distinct counters always give distinct
// URNs (uniqueness by construction, no lookup needed) while consecutive
// counters give unrelated-looking URNs that cannot be guessed from one
// another without the key. The permutation is a balanced Feistel network
// over 44 bits (two 22-bit halves; 2⁴⁴ is the smallest even power of two
// covering Domain), 10 rounds, the round function being AES-256 under a key
// derived from the Issuer's key with HMAC-SHA256, and cycle walking to stay
// within [0, Domain): the permutation is re-applied until the value falls
// inside, about 1.7 times on average. Issuer.Counter inverts it, so a
// URN can be traced back to its counter (and so checked against the counters
// actually allocated).
//
// The key and the construction define every URN ever issued: keep the key
// secret and never change it, because counters issued under two keys can
// collide. Changing the construction (rounds, derivation, alphabet) is a
// new format; the golden test values pin it.
//
// The package owns only URNs: it stores nothing and keeps no counter (the
// referral store allocates counters durably), and must not import other
// Molar packages. Errors from Normalize and Check are sentences for the
// patient or the receptionist, matching ErrLength, ErrStart, ErrCharacter
// or ErrCheck with errors.Is.
package urn
