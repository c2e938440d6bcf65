// Package testutil holds what logtally's tests share: a buffer that
// goroutines under test may write to while the test reads it, and a poll
// with a deadline for waiting on an event without sleeping for it.
package testutil

import (
	"bytes"
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
