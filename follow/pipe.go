package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nxadm/tail/ratelimiter"
	"golang.org/x/sys/unix"

	"github.com/logtally/logtally/lines"
)

// Defaults of PipeConfig.
const (
	DefaultTimeout     = time.Minute
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = time.Minute
	DefaultStderrBurst = 10
	DefaultStderrEvery = time.Second
	// DefaultIntervalMaxOutput caps an interval command's output per run.
	DefaultIntervalMaxOutput = 64 << 20

	// stderrMaxLine caps a logged stderr line.
	stderrMaxLine = 1024
	// drainAfterKill bounds how long output is still read after a
	// command's process group was killed, in case a process that left the
	// group (setsid) still holds the pipe open.
	drainAfterKill = 2 * time.Second
)

// PipeConfig says which command to run and how.
type PipeConfig struct {
	Argv []string // the command and its arguments; run directly, never by a shell
	Env  []string // its environment (the daemon's when nil)
	// Mode is "stream" (the default: long-running, restarted with backoff
	// when it exits; use Run) or "interval" (one run per interval with a
	// timeout; use RunOnce).
	Mode string
	// Timeout limits an interval run (DefaultTimeout when zero); a stream
	// command has none.
	Timeout time.Duration
	MaxLine int // line length limit (lines.DefaultMax when zero)
	// MaxOutput, when positive, limits the bytes of stdout read per run: a
	// command that prints more is killed and reported. Interval commands
	// default to DefaultIntervalMaxOutput; stream commands are unlimited.
	MaxOutput int64
	// Backoff is the first delay before a stream command is restarted,
	// doubled after each quick exit up to MaxBackoff, and reset after a run
	// that lasted MaxBackoff (DefaultBackoff, DefaultMaxBackoff when zero).
	Backoff, MaxBackoff time.Duration
	// StderrBurst and StderrEvery rate-limit the logging of the command's
	// stderr: a burst of StderrBurst lines, then one per StderrEvery
	// (DefaultStderrBurst, DefaultStderrEvery when zero).
	StderrBurst int
	StderrEvery time.Duration
	Clock       Clock        // injectable; SystemClock when nil
	Logger      *slog.Logger // stderr lines and suppression notes go here; discarded when nil
}

// Pipe runs a command and delivers its stdout lines.
type Pipe struct {
	cfg    PipeConfig
	source string
	stats  statsTable
	// upSince is when the running command started, firstTry when the
	// first start was tried (Unix ns, never 0; 0: none runs, none was
	// tried): whether it runs, and DownAt's clock.
	upSince, firstTry atomic.Int64

	mu     sync.Mutex // guards bucket and noted
	bucket *ratelimiter.LeakyBucket
	noted  uint64 // stderr lines dropped and already reported as suppressed

	// A Journal runs journalctl through a Pipe: argv gives the command of
	// each run (it resumes after the last entry delivered), and readOut
	// reads its stdout in the export format instead of as lines.
	argv    func() []string
	readOut func(f *os.File, sk *sink, g *group) error
}

// NewPipe checks cfg and returns a Pipe. It starts nothing.
func NewPipe(cfg PipeConfig) (*Pipe, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, errors.New("new pipe: empty command")
	}
	cfg.Argv = append([]string(nil), cfg.Argv...)
	switch cfg.Mode {
	case "":
		cfg.Mode = "stream"
	case "stream", "interval":
	default:
		return nil, fmt.Errorf("new pipe: mode %q: want \"stream\" or \"interval\"", cfg.Mode)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &cfg.Timeout, DefaultTimeout},
		{"backoff", &cfg.Backoff, DefaultBackoff},
		{"max backoff", &cfg.MaxBackoff, DefaultMaxBackoff},
		{"stderr period", &cfg.StderrEvery, DefaultStderrEvery},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("new pipe: %s %v is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = cfg.Backoff
	}
	switch {
	case cfg.MaxLine < 0:
		return nil, fmt.Errorf("new pipe: max line %d is negative", cfg.MaxLine)
	case cfg.MaxOutput < 0:
		return nil, fmt.Errorf("new pipe: max output %d is negative", cfg.MaxOutput)
	case cfg.StderrBurst < 0 || cfg.StderrBurst > 65535:
		return nil, fmt.Errorf("new pipe: stderr burst %d is out of range 0..65535", cfg.StderrBurst)
	}
	if cfg.StderrBurst == 0 {
		cfg.StderrBurst = DefaultStderrBurst
	}
	if cfg.MaxOutput == 0 && cfg.Mode == "interval" {
		cfg.MaxOutput = DefaultIntervalMaxOutput
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipe{cfg: cfg, source: "pipe:" + strings.Join(cfg.Argv, " ")}
	p.bucket = &ratelimiter.LeakyBucket{
		Size:         uint16(cfg.StderrBurst),
		LeakInterval: cfg.StderrEvery,
		Now:          cfg.Clock.Now,
		Lastupdate:   cfg.Clock.Now(),
	}
	return p, nil
}

// Source returns the name the pipe's batches and events carry.
func (p *Pipe) Source() string { return p.source }

// Stats returns a snapshot of the pipe's counters.
func (p *Pipe) Stats() SourceStats { return p.stats.snapshot()[p.source] }

// Running reports whether the command is running: started, and its run
// not yet over (a stream command waiting for its restart is not running).
func (p *Pipe) Running() bool { return p.upSince.Load() != 0 }

// DownAt reports whether the command was down at t, as far as it can be
// told now: tried at or before t (a command whose first start is still
// under way is starting, not down), and not running now or started again
// only after t — it exited, was killed, could not start, or waits for its
// restart. A stream command restarted just after an interval ended (from
// a backoff that covered the interval's end) was down at that end, though
// it runs by the time the interval is committed. A command that exited
// after t is down now, and taken as down at t (an exit is never hidden).
func (p *Pipe) DownAt(t time.Time) bool {
	first := p.firstTry.Load()
	if first == 0 || first > t.UnixNano() {
		return false // starting
	}
	up := p.upSince.Load()
	return up == 0 || up > t.UnixNano()
}

// now returns the clock's time in Unix nanoseconds, never 0 (which stands
// for none in upSince and firstTry).
func (p *Pipe) now() int64 { return max(p.cfg.Clock.Now().UnixNano(), 1) }

// tryStart notes a start tried now.
func (p *Pipe) tryStart() { p.firstTry.CompareAndSwap(0, p.now()) }

// Run runs a stream command until ctx is done: its lines are delivered as
// they come; when it exits (or cannot be started) it is restarted after a
// backoff. Run returns nil once ctx is done, after killing the command's
// process group.
func (p *Pipe) Run(ctx context.Context, h Handler) error {
	sk := p.newSink(h)
	backoff := p.cfg.Backoff
	for {
		started := p.cfg.Clock.Now()
		_ = p.run(ctx, sk, 0, time.Time{})
		if ctx.Err() != nil {
			return nil
		}
		if p.cfg.Clock.Now().Sub(started) >= p.cfg.MaxBackoff {
			backoff = p.cfg.Backoff // it ran long enough: not a crash loop
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.cfg.Clock.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.MaxBackoff)
		p.stats.update(p.source, func(s *SourceStats) { s.Restarts++ })
	}
}

// RunOnce runs the command once, with the timeout, and delivers its output;
// the partial last line counts, the output being complete. It returns an
// error when the command could not be started, failed, or was killed.
func (p *Pipe) RunOnce(ctx context.Context, h Handler) error {
	return p.run(ctx, p.newSink(h), p.cfg.Timeout, time.Time{})
}

// RunOnceUntil is RunOnce for a run whose output is due by end (the end of
// the interval it is run for): it is killed at its timeout or at end,
// whichever comes first, so that it never outlives the interval it
// belongs to.
func (p *Pipe) RunOnceUntil(ctx context.Context, h Handler, end time.Time) error {
	return p.run(ctx, p.newSink(h), p.cfg.Timeout, end)
}

func (p *Pipe) newSink(h Handler) *sink {
	return &sink{h: h, mu: new(sync.Mutex), stats: &p.stats, log: p.cfg.Logger}
}

// run runs the command once, killed after timeout (0: none) or at end
// (zero: none), whichever comes first.
func (p *Pipe) run(ctx context.Context, sk *sink, timeout time.Duration, end time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", p.cfg.Argv[0], err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return p.startFailed(sk, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return p.startFailed(sk, err)
	}
	argv := p.cfg.Argv
	if p.argv != nil {
		argv = p.argv()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = p.cfg.Env
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return p.startFailed(sk, err)
	}
	defer outR.Close()
	defer errR.Close()
	p.upSince.Store(p.now())
	p.tryStart()
	defer p.upSince.Store(0)
	pid := cmd.Process.Pid
	g := &group{pgid: pid, files: []*os.File{outR, errR}}

	// The leader's exit ends the run: whatever it left in its process
	// group is killed, and the output drained.
	waited := make(chan error, 1)
	go func() {
		// Wait for the exit without reaping, so that the group id cannot
		// be reused before the rest of the group is killed.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		g.cleanup()
		waited <- cmd.Wait()
	}()
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var timer <-chan time.Time
		limit, expired := timeout, fmt.Sprintf("still running after the %v timeout", timeout)
		if left := end.Sub(p.cfg.Clock.Now()); !end.IsZero() && (timeout <= 0 || left < timeout) {
			limit, expired = max(left, 0), "still running at the end of the interval it was run for"
		}
		if timeout > 0 || !end.IsZero() {
			timer = p.cfg.Clock.After(limit)
		}
		select {
		case <-stopWatch:
		case <-ctx.Done():
			g.stop()
		case <-timer:
			g.kill(expired)
		}
	}()
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		p.logStderr(errR, sk)
	}()

	read := p.readStdout
	if p.readOut != nil {
		read = p.readOut
	}
	readErr := read(outR, sk, g)
	if readErr != nil {
		// Nobody reads its output any more: it would block on a full pipe.
		g.kill("reading its output failed: " + readErr.Error())
	}
	<-stderrDone
	waitErr := <-waited
	close(stopWatch)
	<-watchDone
	p.flushStderr()

	if why, stopped := g.reason(), g.wasStopped(); why != "" {
		if stopped {
			sk.event(Event{Kind: EventStop, Source: p.source, Pid: pid, Detail: "process group killed: " + why})
			return fmt.Errorf("run %s: %s", p.cfg.Argv[0], why)
		}
		p.stats.update(p.source, func(s *SourceStats) { s.Kills++ })
		sk.event(Event{Kind: EventKill, Source: p.source, Pid: pid, Detail: "process group killed: " + why})
		return fmt.Errorf("run %s: killed: %s", p.cfg.Argv[0], why)
	}
	if readErr != nil {
		sk.event(Event{Kind: EventExit, Source: p.source, Pid: pid, Err: readErr, Detail: "exited; reading its output failed"})
		return fmt.Errorf("run %s: read output: %w", p.cfg.Argv[0], readErr)
	}
	detail := "exited"
	if waitErr != nil {
		detail = waitErr.Error()
	}
	sk.event(Event{Kind: EventExit, Source: p.source, Pid: pid, Err: waitErr, Detail: detail})
	if waitErr != nil {
		return fmt.Errorf("run %s: %w", p.cfg.Argv[0], waitErr)
	}
	return nil
}

func (p *Pipe) startFailed(sk *sink, err error) error {
	p.tryStart()
	sk.event(Event{Kind: EventStartError, Source: p.source, Err: err, Detail: "will retry"})
	return fmt.Errorf("start %s: %w", p.cfg.Argv[0], err)
}

// readStdout delivers the command's stdout lines until it ends; it kills
// the group when the output limit is passed.
func (p *Pipe) readStdout(f *os.File, sk *sink, g *group) error {
	src, err := newPollSource(f)
	if err != nil {
		return err
	}
	var b batcher
	r := lines.NewReader(src, 0, p.cfg.MaxLine)
	limit := p.cfg.MaxOutput
	err = pump(r, src, &b, func() { sk.deliver(&b, p.source, Position{}) }, func(total int64) bool {
		if limit > 0 && total > limit {
			g.kill(fmt.Sprintf("printed more than %d bytes", limit))
			return false
		}
		return true
	})
	if err != nil && g.reason() != "" {
		return nil // the kill ended the output
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil // a process outside the group kept the pipe open
	}
	return err
}

// logStderr logs the command's stderr lines, rate-limited by a leaky
// bucket, counting those it drops.
func (p *Pipe) logStderr(f *os.File, sk *sink) {
	r := lines.NewReader(f, 0, stderrMaxLine)
	logLine := func(line []byte) {
		p.mu.Lock()
		ok := p.bucket.Pour(1)
		p.mu.Unlock()
		sk.stats.update(p.source, func(s *SourceStats) {
			s.StderrLines++
			if !ok {
				s.StderrDrop++
			}
		})
		if ok {
			p.flushStderr()
			p.cfg.Logger.Warn("command stderr", "source", p.source, "line", string(line))
		}
	}
	for {
		line, _, err := r.Next()
		if err != nil {
			break
		}
		logLine(line)
	}
	if line, _, ok := r.Final(); ok {
		logLine(line)
	}
}

// flushStderr logs how many stderr lines were dropped since the last note.
func (p *Pipe) flushStderr() {
	st := p.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.StderrDrop == p.noted {
		return
	}
	n := st.StderrDrop - p.noted
	p.noted = st.StderrDrop
	p.cfg.Logger.Warn("command stderr suppressed", "source", p.source, "lines", n)
}

// group is a running command's process group.
type group struct {
	pgid  int
	files []*os.File // the output pipes, given a read deadline after a kill

	mu      sync.Mutex
	why     string
	killed  bool // killed on purpose (timeout, limit, shutdown)
	stopped bool // killed because the run was asked to stop
	exited  bool // the leader exited and the group was cleaned up
}

// kill kills the whole process group, once, and records why. It does
// nothing once the leader has exited: its group was killed then.
func (g *group) kill(why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed || g.exited {
		return
	}
	g.killed, g.why = true, why
	g.signal()
}

// stop kills the whole process group, once, because the run was asked to
// stop.
func (g *group) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed || g.exited {
		return
	}
	g.killed, g.stopped, g.why = true, true, "stopped"
	g.signal()
}

// wasStopped reports whether the group was killed by stop.
func (g *group) wasStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// cleanup kills what the leader left in its group once it has exited
// (and before it is reaped).
func (g *group) cleanup() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.exited = true
	g.signal()
}

func (g *group) signal() {
	_ = syscall.Kill(-g.pgid, syscall.SIGKILL) // ESRCH: the group is already gone
	deadline := time.Now().Add(drainAfterKill)
	for _, f := range g.files {
		_ = f.SetReadDeadline(deadline)
	}
}

func (g *group) reason() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.why
}
