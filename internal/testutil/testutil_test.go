package testutil

import (
	"sync"
	"testing"
	"time"
)

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("buffer holds %d bytes, want 800", n)
	}
}

// recorder is a testing.TB that records a failure instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	panic(r)
}

func TestWaitFor(t *testing.T) {
	start := time.Now()
	n := 0
	WaitFor(t, time.Second, "three calls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	r := &recorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		WaitForWhy(r, 20*time.Millisecond, "never", func() (bool, string) { return false, "because" })
	}()
	if r.failed == "" {
		t.Fatal("WaitForWhy did not fail at its deadline")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("WaitFor took far longer than its timeouts")
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	now := c.After(0)
	select {
	case <-now:
	default:
		t.Fatal("After(0) did not fire at once")
	}
	a, b := c.After(time.Second), c.After(time.Minute)
	c.WaitTimer(t, time.Second)
	c.Advance(30 * time.Second)
	select {
	case got := <-a:
		if !got.Equal(t0.Add(30 * time.Second)) {
			t.Fatalf("timer fired with %v", got)
		}
	default:
		t.Fatal("the one-second timer did not fire after 30s")
	}
	select {
	case <-b:
		t.Fatal("the one-minute timer fired after 30s")
	default:
	}
	if c.Pending() != 1 || !c.Now().Equal(t0.Add(30*time.Second)) {
		t.Fatalf("pending %d now %v", c.Pending(), c.Now())
	}
}
