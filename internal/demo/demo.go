// Package demo seeds a fictional dental referral region so a newcomer has
// something to click through: a Directory of Services, referrals in every
// state with their intraoral and panoramic films, free booking slots, a
// study nobody could file, and a forwarding job to a hospital PACS.
//
// Everything it writes is fictional: NHS numbers in the 999 range, which
// is never issued, and phone numbers from Ofcom's drama range. It works
// only through the referral service and the archive's public APIs, as
// the people of the region would, so every referral has a true history.
// It must not be wired outside demo mode.
package demo

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/molar-pacs/molar/referral/urn"
)

// URNKey keys the demo region's URN permutation, so that its URNs are
// the same on every machine and the README can name them.
var URNKey = func() []byte {
	k := sha256.Sum256([]byte("molar demo region: not for patient data"))
	return k[:]
}()

// URN returns the URN the demo region's n-th submitted referral (from 0)
// gets: the region's referrals are submitted first, in a fixed order.
func URN(n int) string {
	is, err := urn.NewIssuer(URNKey)
	if err != nil {
		panic(err) // the key is a constant of the right length
	}
	u, err := is.URN(uint64(n))
	if err != nil {
		panic(err)
	}
	return u
}

// NHSNumber returns the n-th (from 1) fictional NHS number: 999 followed
// by six digits and a valid Modulus 11 check digit, skipping the bases
// that have none. Distinct n give distinct numbers. The 999 range is
// never issued.
func NHSNumber(n int) string {
	for k, seen := 1, 0; ; k++ {
		base := fmt.Sprintf("999%06d", k)
		sum := 0
		for i, c := range base {
			sum += int(c-'0') * (10 - i)
		}
		check := (11 - sum%11) % 11
		if check == 10 {
			continue // no valid check digit: this number is never issued
		}
		if seen++; seen >= n {
			return fmt.Sprintf("%s%d", base, check)
		}
	}
}

// Clock is the time the referral service believes it is while the region
// is seeded, so that demo referrals have waited days and weeks rather
// than all arriving this second. Unset, it is the real time.
type Clock struct {
	mu sync.Mutex
	at time.Time
}

// Now is the clock's time; pass it as the referral service's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

func (c *Clock) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

func (c *Clock) reset() { c.set(time.Time{}) }
