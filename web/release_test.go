package web

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// TestScrapeReleasesMemory: a scrape of /metrics is followed, a second
// later, by one release of memory, which the scrapes of that second share;
// a scrape after it schedules the next; the other endpoints do not.
func TestScrapeReleasesMemory(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(staticSource{fixture(t)}, nil)
	var released atomic.Int32
	s.rel.after = clock.After
	s.rel.release = func() { released.Add(1) }
	get := func(path string) {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
	}
	get("/")
	get("/status.json")
	if n := clock.Pending(); n != 0 {
		t.Fatalf("the page and the JSON scheduled %d releases", n)
	}
	for range 5 {
		get("/metrics")
	}
	if n := clock.Pending(); n != 1 {
		t.Fatalf("5 scrapes scheduled %d releases, want 1", n)
	}
	if n := released.Load(); n != 0 {
		t.Fatalf("released %d times before the delay", n)
	}
	clock.Advance(releaseDelay)
	testutil.WaitFor(t, 10*time.Second, "the release", func() bool { return released.Load() == 1 })
	testutil.WaitFor(t, 10*time.Second, "the release's end", func() bool { return !s.rel.pending.Load() })
	get("/metrics")
	clock.WaitTimer(t, 10*time.Second)
	clock.Advance(releaseDelay)
	testutil.WaitFor(t, 10*time.Second, "the second release", func() bool { return released.Load() == 2 })
}
