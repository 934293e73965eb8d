package forward

import (
	"math/rand/v2"
	"time"
)

// Clock is the time the queue runs on; tests inject their own.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backoff says how long to wait before the next attempt after the given
// number of consecutive failed attempts (1 after the first failure).
type Backoff func(failures int) time.Duration

// Default retry policy.
const (
	DefaultInitialDelay = 30 * time.Second
	DefaultMaxDelay     = time.Hour
	DefaultJitter       = 0.25
	DefaultMaxAge       = 7 * 24 * time.Hour
	DefaultConcurrency  = 2
)

// Exponential waits initial after the first failure, doubling with each
// further one up to maxDelay. Each wait is then shortened by a random part
// of at most jitter (0 to 1) of it, so that jobs to a node that was down
// do not all come back at the same moment.
func Exponential(initial, maxDelay time.Duration, jitter float64) Backoff {
	jitter = min(max(jitter, 0), 1)
	return func(failures int) time.Duration {
		d := initial
		for i := 1; i < failures && d < maxDelay; i++ {
			d *= 2
		}
		d = min(d, maxDelay)
		if cut := time.Duration(float64(d) * jitter); cut > 0 {
			d -= rand.N(cut + 1)
		}
		return max(d, 0)
	}
}
