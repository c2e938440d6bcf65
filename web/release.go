package web

import (
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// releaseDelay is how long after a scrape its memory is given back: the
// scrapes of one second share one collection.
const releaseDelay = time.Second

// releaser gives the memory of scrapes back to the system.
//
// A scrape builds every series of a View through client_golang's Gather:
// with 1000 weekly measurements, about 22,000 series and 15 MB, garbage
// as soon as they are written. An idle daemon allocates next to nothing
// else, so the collector's next cycle is far off and its heap goal, set
// while the scrape was live, twice that: left alone, a daemon with 1000
// weekly measurements sits at 70 to 85 MiB of RSS after a few scrapes,
// where it needs 45. So a scrape is followed by a forced collection
// that returns the freed pages (debug.FreeOSMemory): one collection of
// the live heap, some milliseconds of CPU, at most once per releaseDelay
// however often /metrics is asked for.
type releaser struct {
	pending atomic.Bool
	after   func(time.Duration) <-chan time.Time // time.After; a fake clock's in tests
	release func()                               // debug.FreeOSMemory; counted in tests
}

func newReleaser() *releaser {
	return &releaser{after: time.After, release: debug.FreeOSMemory}
}

// scraped schedules a release, unless one is pending.
func (r *releaser) scraped() {
	if r.pending.Swap(true) {
		return
	}
	wait := r.after(releaseDelay)
	go func() {
		<-wait
		// Cleared first: a scrape during the release schedules the next.
		r.pending.Store(false)
		r.release()
	}()
}

// releaseAfter serves next, then has the releaser give the memory back.
func releaseAfter(r *releaser, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req)
		r.scraped()
	})
}
