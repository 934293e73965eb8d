package render

import (
	"runtime"
	"sync"
)

// parallel calls fn over [0, n) cut into one contiguous range per CPU,
// each of at least grain items, and waits for all of them. Small jobs
// (thumbnails) run inline: starting goroutines would cost more than they
// save. fn must only write what its own range owns.
func parallel(n, grain int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := n*i/workers, n*(i+1)/workers
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// pixelGrain is the least work worth a goroutine in per-pixel loops.
const pixelGrain = 1 << 16
