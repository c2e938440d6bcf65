// Package testutil holds what logtally's tests share: a buffer that
// goroutines under test may write to while the test reads it, a poll
// with a deadline for waiting on an event without sleeping for it, a
// clock the test moves, and a strict decoder of the line protocol that
// logtally writes.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent use, for example as the
// destination of a logger or a process's stderr.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tick is how often WaitFor asks again.
const tick = 5 * time.Millisecond

// WaitFor calls cond until it returns true, and fails the test if it has
// not within timeout, saying what was awaited.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitForWhy(t, timeout, what, func() (bool, string) { return cond(), "" })
}

// WaitForWhy is WaitFor for a condition that can say why it does not hold
// yet; the last reason is in the failure.
func WaitForWhy(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if why != "" {
				t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
			}
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-ticker.C
	}
}

// Clock is a clock that moves only when the test advances it, for code that
// takes an injected clock (follow.Clock): timers fire when Advance passes
// their deadline, never by themselves.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []timer
	changed chan struct{}
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a Clock showing now.
func NewClock(now time.Time) *Clock {
	return &Clock{now: now, changed: make(chan struct{}, 1)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the time once the clock has been
// advanced by d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, timer{c.now.Add(d), ch})
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// Pending returns how many timers wait.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// WaitTimer waits until something waits on the clock, and fails the test
// if nothing does within limit.
func (c *Clock) WaitTimer(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for c.Pending() == 0 {
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("nothing waited on the clock within %v", limit)
		}
	}
}

// AuthCorpus returns the path of a benchmark corpus of n real sshd lines,
// built by make-auth-corpus.sh (from $LOGTALLY_SHARED/corpus, or a shared/
// folder beside the checkout) and cached in the temporary directory. It
// skips the benchmark when the script or perl is missing.
func AuthCorpus(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("logtally-auth-%d.log", n))
	if data, err := os.ReadFile(path); err == nil && bytes.Count(data, []byte{'\n'}) == n {
		return path
	}
	var script string
	for _, d := range []string{os.Getenv("LOGTALLY_SHARED"), "../../shared", "../../../shared"} {
		if p := filepath.Join(d, "corpus", "make-auth-corpus.sh"); d != "" && fileExists(p) {
			script = p
			break
		}
	}
	if script == "" {
		b.Skip("make-auth-corpus.sh not found; set LOGTALLY_SHARED to the folder holding corpus/")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		b.Skip("perl is missing: make-auth-corpus.sh needs it")
	}
	tmp := filepath.Join(b.TempDir(), "auth.log")
	if out, err := exec.Command("sh", script, fmt.Sprint(n), tmp).CombinedOutput(); err != nil {
		b.Fatalf("make-auth-corpus.sh: %v: %s", err, out)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		b.Fatal(err)
	}
	// Cached for the next run; a failure only costs the rebuild.
	if err := os.WriteFile(path+".tmp", data, 0o644); err == nil && os.Rename(path+".tmp", path) == nil {
		return path
	}
	return tmp
}

// NeedTool returns the path of the first of names on PATH, a tool the test
// needs: under CI=true its absence fails the test (.ci/run installs it),
// elsewhere it skips the test.
func NeedTool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (.ci/run installs it): not on PATH", names[0])
	}
	t.Skipf("%s not installed", names[0])
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
