package observe

import (
	"context"
	"errors"
	"maps"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Default places of the sources.
const (
	DefaultProc = "/proc"
	DefaultUtmp = "/var/run/utmp"
)

// ErrBusy is the error of an observable whose source is still being read
// from an earlier call (a filesystem that does not answer statfs, say).
var ErrBusy = errors.New("still reading from the previous sample")

// Sampler reads observables. Its zero value reads the running system; it
// is safe for concurrent use.
type Sampler struct {
	// Proc is where proc(5) is mounted; DefaultProc when empty.
	Proc string
	// Utmp is the utmp file; DefaultUtmp when empty.
	Utmp string
	// LookupUser names a user ID; nil uses os/user, then the number.
	LookupUser func(uid uint64) string

	mu    sync.Mutex
	busy  map[string]bool   // sources being read
	names map[uint64]string // user names by ID
}

// maxNames bounds the user names a Sampler remembers.
const maxNames = 4096

func (s *Sampler) proc() string {
	if s.Proc == "" {
		return DefaultProc
	}
	return s.Proc
}

func (s *Sampler) utmp() string {
	if s.Utmp == "" {
		return DefaultUtmp
	}
	return s.Utmp
}

// userName returns the name of a user ID, or the ID as a number.
func (s *Sampler) userName(uid uint64) string {
	s.mu.Lock()
	n, ok := s.names[uid]
	s.mu.Unlock()
	if ok {
		return n
	}
	if s.LookupUser != nil {
		n = s.LookupUser(uid)
	} else if u, err := user.LookupId(strconv.FormatUint(uid, 10)); err == nil {
		n = u.Username
	}
	if n == "" {
		n = strconv.FormatUint(uid, 10)
	}
	s.mu.Lock()
	if s.names == nil || len(s.names) >= maxNames {
		s.names = map[uint64]string{}
	}
	s.names[uid] = n
	s.mu.Unlock()
	return n
}

// source is one thing read once for every observable that needs it.
type source struct {
	name string
	idx  []int // the specs it answers
	read func(specs []Spec) []Result
}

// sources groups the specs by what must be read for them.
func (s *Sampler) sources(specs []Spec) []*source {
	by := map[string]*source{}
	var order []*source
	add := func(name string, i int, read func([]Spec) []Result) {
		src, ok := by[name]
		if !ok {
			src = &source{name: name, read: read}
			by[name] = src
			order = append(order, src)
		}
		src.idx = append(src.idx, i)
	}
	for i, sp := range specs {
		switch sp.Kind {
		case Users:
			add("utmp", i, s.readUsers)
		case RootProcs, OtherProcs:
			add("procs", i, s.readProcs)
		case LoadAvg:
			add("loadavg", i, s.readLoad)
		case DiskFree, DiskUsed:
			add("statfs:"+sp.Path, i, s.readDisk)
		case TCPIn, TCPOut:
			add("connections", i, s.readNet)
		case ListeningTCP, ListeningUDP:
			// A source of its own: naming the programs of the listening
			// sockets reads every process's open files, which takes seconds
			// on a machine with millions of them, and must not make the
			// connection counts late.
			add("listening", i, s.readNet)
		default:
			add("unknown:"+string(sp.Kind), i, func(specs []Spec) []Result {
				out := make([]Result, len(specs))
				for j := range out {
					out[j].Err = &Error{Source: string(specs[j].Kind), Err: errors.New("unknown observable")}
				}
				return out
			})
		}
	}
	return order
}

// Sample reads every observable now, each source once. Results are in the
// order of specs.
func (s *Sampler) Sample(specs []Spec) []Result {
	return s.SampleContext(context.Background(), specs)
}

// SampleContext is Sample with a deadline: each source is read on its own
// goroutine, and one that has not answered when ctx is done gives its
// observables the context's error, so that a filesystem that hangs in
// statfs delays nothing else. Such a source is not read again until its
// read returns; meanwhile its observables get ErrBusy.
func (s *Sampler) SampleContext(ctx context.Context, specs []Spec) []Result {
	out := make([]Result, len(specs))
	for p := range s.Start(ctx, specs, nil) {
		for j, i := range p.Index {
			out[i] = p.Results[j]
		}
	}
	return out
}

// Part is what one source answered: the results of the observables it
// reads, by their index in the specs given to Start.
type Part struct {
	Index   []int
	Results []Result
}

// Start reads every observable of specs, each source once on a goroutine
// of its own, and sends each source's part on the channel it returns as
// soon as that source is read, so that a slow source is late only with
// its own observables. limits, when not nil, bounds the reading of each
// spec (0: no bound); a source read for several is bounded by the longest.
// A source that has not answered within its bound, or when ctx is done,
// sends the error (context.DeadlineExceeded, or ctx's); one still being
// read for an earlier call is not read again and sends ErrBusy at once.
// The channel is closed after the last part.
func (s *Sampler) Start(ctx context.Context, specs []Spec, limits []time.Duration) <-chan Part {
	srcs := s.sources(specs)
	out := make(chan Part, len(srcs)) // never blocks: a reader may stop early
	type read struct {
		name string
		part Part
	}
	ch := make(chan read, len(srcs)) // the reads, which may outlive their bound
	pending := map[string][]int{}
	due := map[string]time.Time{} // a pending source's bound, if it has one
	start := time.Now()
	for _, src := range srcs {
		sub := make([]Spec, len(src.idx))
		var limit time.Duration
		for j, i := range src.idx {
			sub[j] = specs[i]
			if limits != nil {
				limit = max(limit, limits[i])
			}
		}
		s.mu.Lock()
		busy := s.busy[src.name]
		if !busy {
			if s.busy == nil {
				s.busy = map[string]bool{}
			}
			s.busy[src.name] = true
		}
		s.mu.Unlock()
		if busy {
			out <- Part{Index: src.idx, Results: fail(len(src.idx), &Error{Source: src.name, Err: ErrBusy})}
			continue
		}
		pending[src.name] = src.idx
		if limit > 0 {
			due[src.name] = start.Add(limit)
		}
		go func(src *source) {
			res := src.read(sub)
			s.mu.Lock()
			delete(s.busy, src.name)
			s.mu.Unlock()
			ch <- read{src.name, Part{Index: src.idx, Results: res}}
		}(src)
	}
	expire := func(names []string, err error) {
		for _, n := range names {
			idx := pending[n]
			delete(pending, n)
			delete(due, n)
			out <- Part{Index: idx, Results: fail(len(idx), &Error{Source: n, Err: err})}
		}
	}
	go func() {
		defer close(out)
		timer := time.NewTimer(time.Hour) // reset before each wait (Go 1.23 timers: no stale tick)
		defer timer.Stop()
		for len(pending) > 0 {
			var next time.Time
			for _, t := range due {
				if next.IsZero() || t.Before(next) {
					next = t
				}
			}
			var expired <-chan time.Time
			if !next.IsZero() {
				timer.Reset(time.Until(next))
				expired = timer.C
			}
			select {
			case r := <-ch:
				if _, ok := pending[r.name]; ok {
					delete(pending, r.name)
					delete(due, r.name)
					out <- r.part
				}
			case now := <-expired:
				var over []string
				for n, t := range due {
					if !t.After(now) {
						over = append(over, n)
					}
				}
				slices.Sort(over)
				expire(over, context.DeadlineExceeded)
			case <-ctx.Done():
				expire(slices.Sorted(maps.Keys(pending)), ctx.Err())
			}
		}
	}()
	return out
}

// fail returns n results with the same error.
func fail(n int, err error) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i].Err = err
	}
	return out
}
