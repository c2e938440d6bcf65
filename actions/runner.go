package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outcomes of a run, in RunRecord.Outcome.
const (
	OutcomeOK      = "ok"      // exit status 0, or report delivered
	OutcomeFailed  = "failed"  // non-zero exit status, or report not delivered
	OutcomeError   = "error"   // the command could not be started
	OutcomeTimeout = "timeout" // killed at its timeout
	OutcomeExpired = "expired" // killed (or replaced in the queue) by a newer firing past expireafter
	OutcomeKilled  = "killed"  // killed at shutdown (Wait's context ended)
	OutcomeRefused = "refused" // log text would reach a shell, a key fails its key_type, or a NUL byte
	OutcomeDropped = "dropped" // the queue was full, or shutdown came first
	OutcomeDryRun  = "dry-run" // logged, not run
)

const (
	excerptSize   = 4 << 10         // output kept in a RunRecord
	maxLoggedArgv = 256 << 10       // bytes of argv in one log line
	sigkillWait   = 2 * time.Second // for a process to die after SIGKILL
)

// RunRecord is one run of a command or delivery of a report.
type RunRecord struct {
	Kind     Kind
	Handle   string
	Key      string // the source of a per: key firing
	Guard    string
	Argv     []string // command: as run (or as it would have run)
	Env      []string // dry run: the environment additions
	Message  string   // report
	To       string   // report
	Start    time.Time
	Duration time.Duration
	ExitCode int    // -1 unless the command exited by itself
	Signal   string // the signal that ended it, if one did
	Outcome  string
	Stdout   string // the first 4 KiB of standard output
	Stderr   string // the first 4 KiB of standard error
	Dropped  int64  // output bytes beyond Options.OutputCap, not kept
	Err      string
	DryRun   bool
}

// Stats are the engine's counters since it (or the engine it was rebuilt
// from) was created, and its current load.
type Stats struct {
	Runs         uint64 // commands started
	Failures     uint64 // runs that did not end with exit status 0, including start errors and kills
	Timeouts     uint64 // runs killed at their timeout
	Expired      uint64 // runs killed or replaced past their expireafter
	Killed       uint64 // runs killed at shutdown
	Refused      uint64 // firings refused before running (log text to a shell, invalid key, NUL)
	Suppressed   uint64 // rises suppressed by ifelapsed or a run still going
	QueueDrops   uint64 // firings dropped: queue full, or shutdown before they started
	Reports      uint64 // reports delivered
	ReportErrors uint64 // reports not delivered where asked (syslog fallbacks included)
	DryRuns      uint64 // firings logged instead of run
	// NoticeLogErrors counts the intervals whose notices could not be
	// appended to the notice log.
	NoticeLogErrors uint64
	OutputDropped   uint64 // bytes of command output beyond the cap
	Running         int    // commands running now
	Queued          int    // firings waiting for a slot
	MaxRunning      int    // the most commands ever running at once
}

// runner owns the processes: slots, queue, counters, recent runs. It is
// shared by an Engine and the Engines rebuilt from it.
type runner struct {
	mu         sync.Mutex
	log        *slog.Logger
	max        int
	queueSize  int
	recentSize int
	grace      time.Duration
	outputCap  int
	now        func() time.Time

	running  int
	queue    []*job
	byHandle map[string]*job // queued or running, one per handle
	stopping bool            // Wait's context ended: start nothing more
	recent   []RunRecord
	stats    Stats
	busy     int           // goroutines alive: runs and report deliveries
	changed  chan struct{} // closed and replaced when busy drops

	reportMu sync.Mutex // serialises report deliveries
	sl       *syslog.Writer
	slKey    string
	// syslogDown: a report to syslog fell back to stderr, and none has
	// reached syslog since (guarded by reportMu).
	syslogDown bool
}

func newRunner(log *slog.Logger) *runner {
	return &runner{log: log, byHandle: map[string]*job{}, changed: make(chan struct{})}
}

func (r *runner) configure(o Options) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log, r.max, r.queueSize, r.recentSize = o.Logger, o.MaxConcurrent, o.QueueSize, o.RecentSize
	r.grace, r.outputCap, r.now = o.KillGrace, o.OutputCap, o.Now
	if n := len(r.recent) - r.recentSize; n > 0 {
		r.recent = slices.Delete(r.recent, 0, n)
	}
	for !r.stopping && r.running < r.max && len(r.queue) > 0 { // the limit was raised
		j := r.queue[0]
		r.queue = slices.Delete(r.queue, 0, 1)
		r.stats.Queued = len(r.queue)
		r.startLocked(j)
	}
}

// job is a firing of a command, queued or running.
type job struct {
	f         Firing
	env       []string
	enqueued  time.Time // runner clock
	started   time.Time // runner clock; zero while queued
	successor *job      // replaces this run once it has been killed
	kill      chan struct{}
	killOnce  sync.Once
	reason    string // set before kill is closed
}

func (j *job) stop(reason string) {
	j.killOnce.Do(func() {
		j.reason = reason
		close(j.kill)
	})
}

// status reports whether a run of the handle is queued or going, and for
// how long.
func (r *runner) status(handle string) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.byHandle[handle]
	switch {
	case j == nil:
		return false, 0
	case j.successor != nil:
		return true, 0
	case j.started.IsZero():
		return true, r.now().Sub(j.enqueued)
	default:
		return true, r.now().Sub(j.started)
	}
}

// record keeps a finished run; r.mu is held.
func (r *runner) record(rec RunRecord) {
	if len(r.recent) >= r.recentSize {
		r.recent = slices.Delete(r.recent, 0, len(r.recent)-r.recentSize+1)
	}
	r.recent = append(r.recent, rec)
}

func (r *runner) recordLocked(rec RunRecord) {
	r.mu.Lock()
	r.record(rec)
	r.mu.Unlock()
}

func (r *runner) done() {
	r.mu.Lock()
	r.busy--
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// submit starts or queues a job; see the package comment.
func (r *runner) submit(j *job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := j.f.runID()
	if old := r.byHandle[h]; old != nil {
		switch {
		case !j.f.Replace:
			// Decided before the previous run was submitted: never two at once.
			r.stats.Suppressed++
			r.log.Info("actions: firing suppressed", "handle", j.f.Handle, "key", j.f.Key, "guard", j.f.Guard, "reason", ReasonRunning)
		case old.started.IsZero():
			r.stats.Expired++
			r.record(RunRecord{Kind: KindCommand, Handle: old.f.Handle, Key: old.f.Key, Guard: old.f.Guard, Argv: old.f.Argv, Start: time.Now(),
				ExitCode: -1, Outcome: OutcomeExpired, Err: "replaced in the queue by a newer firing"})
			r.log.Warn("actions: queued command replaced by a newer firing", "handle", j.f.Handle, "key", j.f.Key)
			old.f, old.env, old.enqueued = j.f, j.env, j.enqueued
		default:
			if old.successor != nil {
				r.dropLocked(old.successor, "replaced by a newer firing")
			}
			old.successor = j
			old.stop(OutcomeExpired)
		}
		return
	}
	switch {
	case r.stopping:
		r.dropLocked(j, "shutting down")
	case r.running < r.max:
		r.byHandle[h] = j
		r.startLocked(j)
	case len(r.queue) < r.queueSize:
		r.byHandle[h] = j
		r.queue = append(r.queue, j)
		r.stats.Queued = len(r.queue)
	default:
		r.dropLocked(j, "queue full")
	}
}

func (r *runner) startLocked(j *job) {
	r.running++
	r.busy++
	r.stats.Running = r.running
	r.stats.MaxRunning = max(r.stats.MaxRunning, r.running)
	j.started = r.now()
	go r.loop(j)
}

func (r *runner) dropLocked(j *job, why string) {
	r.stats.QueueDrops++
	r.record(RunRecord{Kind: j.f.Kind, Handle: j.f.Handle, Key: j.f.Key, Guard: j.f.Guard, Argv: j.f.Argv, Message: j.f.Message,
		To: j.f.To, Start: time.Now(), ExitCode: -1, Outcome: OutcomeDropped, Err: why})
	r.log.Error("actions: firing dropped", "kind", string(j.f.Kind), "handle", j.f.Handle, "guard", j.f.Guard, "reason", why)
}

// loop runs j, then its successor or the next queued job in the same slot.
func (r *runner) loop(j *job) {
	for j != nil {
		rec := r.run(j)
		r.mu.Lock()
		r.record(rec)
		h := j.f.runID()
		next := j.successor
		switch {
		case next != nil && r.stopping:
			r.dropLocked(next, "shutting down")
			next = nil
			delete(r.byHandle, h)
		case next != nil:
			r.byHandle[h] = next
		case r.byHandle[h] == j:
			delete(r.byHandle, h)
		}
		if next == nil && !r.stopping && r.running <= r.max && len(r.queue) > 0 {
			next = r.queue[0]
			r.queue = slices.Delete(r.queue, 0, 1)
			r.stats.Queued = len(r.queue)
		}
		if next == nil {
			r.running--
			r.stats.Running = r.running
			r.busy--
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
			return
		}
		next.started = r.now()
		r.mu.Unlock()
		j = next
	}
}

// capture keeps the first max bytes written to it and counts the rest.
type capture struct {
	buf     []byte
	max     int
	dropped int64
}

func (c *capture) Write(p []byte) (int, error) {
	room := min(c.max-len(c.buf), len(p))
	if room > 0 {
		c.buf = append(c.buf, p[:room]...)
	}
	c.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

// run runs one command to its end and returns its record.
func (r *runner) run(j *job) RunRecord {
	f := j.f
	rec := RunRecord{Kind: KindCommand, Handle: f.Handle, Key: f.Key, Guard: f.Guard, Argv: f.Argv, Start: time.Now(), ExitCode: -1}
	r.mu.Lock()
	grace, outputCap, log := r.grace, r.outputCap, r.log
	r.mu.Unlock()
	select {
	case <-j.kill:
		rec.Outcome = j.reason
		rec.Err = "killed before it started"
		r.count(&rec)
		return rec
	default:
	}

	cmd := exec.Command(f.Argv[0], f.Argv[1:]...)
	cmd.Env = j.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, outW, err := os.Pipe()
	if err != nil {
		return r.startFailed(rec, err, log)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return r.startFailed(rec, err, log)
	}
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return r.startFailed(rec, err, log)
	}
	r.mu.Lock()
	r.stats.Runs++
	r.mu.Unlock()

	stdout, stderr := &capture{max: outputCap}, &capture{max: outputCap}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); _, _ = io.Copy(stdout, outR) }()
	go func() { defer readers.Done(); _, _ = io.Copy(stderr, errR) }()
	readDone := make(chan struct{})
	go func() { readers.Wait(); close(readDone) }()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	timer := time.NewTimer(f.Timeout)
	defer timer.Stop()
	reason := ""
	for ex, rd := exited, readDone; (ex != nil || rd != nil) && reason == ""; {
		select {
		case <-ex:
			ex = nil
		case <-rd:
			rd = nil
		case <-timer.C:
			reason = OutcomeTimeout
		case <-j.kill:
			reason = j.reason
		}
	}
	if reason != "" {
		if err := terminate(cmd.Process, exited, readDone, grace); err != nil {
			rec.Err = err.Error()
			outR.Close() // unblock the readers of pipes something still holds
			errR.Close()
		}
	}
	select {
	case <-exited:
	case <-time.After(sigkillWait):
		rec.Err = "the command did not exit after SIGKILL"
	}
	readers.Wait()
	rec.Duration = time.Since(rec.Start)
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			rec.Signal = signalName(ws.Signal())
		} else {
			rec.ExitCode = ps.ExitCode()
		}
	}
	switch {
	case reason != "":
		rec.Outcome = reason
	case rec.ExitCode == 0:
		rec.Outcome = OutcomeOK
	default:
		rec.Outcome = OutcomeFailed
	}
	rec.Stdout = string(stdout.buf[:min(len(stdout.buf), excerptSize)])
	rec.Stderr = string(stderr.buf[:min(len(stderr.buf), excerptSize)])
	rec.Dropped = stdout.dropped + stderr.dropped
	r.count(&rec)

	level := slog.LevelInfo
	if rec.Outcome != OutcomeOK {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("handle", rec.Handle), slog.String("guard", rec.Guard),
		slog.String("outcome", rec.Outcome), slog.Int("exit", rec.ExitCode),
		slog.Duration("duration", rec.Duration), slog.String("argv", quoteArgv(rec.Argv)),
		slog.String("stdout", oneLine(string(stdout.buf))), slog.String("stderr", oneLine(string(stderr.buf))),
	}
	if rec.Key != "" {
		attrs = append(attrs, slog.String("key", rec.Key))
	}
	if rec.Signal != "" {
		attrs = append(attrs, slog.String("signal", rec.Signal))
	}
	if rec.Dropped > 0 {
		attrs = append(attrs, slog.Int64("output_dropped", rec.Dropped))
	}
	if rec.Err != "" {
		attrs = append(attrs, slog.String("err", rec.Err))
	}
	log.LogAttrs(context.Background(), level, "actions: command ran", attrs...)
	return rec
}

func (r *runner) startFailed(rec RunRecord, err error, log *slog.Logger) RunRecord {
	rec.Outcome = OutcomeError
	rec.Err = fmt.Sprintf("start command: %v", err)
	rec.Duration = time.Since(rec.Start)
	r.count(&rec)
	log.Error("actions: command could not start", "handle", rec.Handle, "guard", rec.Guard,
		"argv", quoteArgv(rec.Argv), "err", err)
	return rec
}

// count adds a finished run to the counters.
func (r *runner) count(rec *RunRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Outcome != OutcomeOK {
		r.stats.Failures++
	}
	switch rec.Outcome {
	case OutcomeTimeout:
		r.stats.Timeouts++
	case OutcomeExpired:
		r.stats.Expired++
	case OutcomeKilled:
		r.stats.Killed++
	}
	if rec.Dropped > 0 {
		r.stats.OutputDropped += uint64(rec.Dropped)
	}
}

// terminate sends SIGTERM to the process group of p (and to p), then
// SIGKILL after grace if the leader has not exited or something still
// holds its output open. It waits up to grace after the SIGKILL and
// returns an error if the output is still held then.
func terminate(p *os.Process, exited, readDone <-chan struct{}, grace time.Duration) error {
	pgid := p.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	_ = p.Signal(syscall.SIGTERM)
	if waitBoth(exited, readDone, grace) {
		// Children that ignore SIGTERM but closed their output are still
		// in the group: the group is killed all the same.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = p.Kill()
	if waitBoth(exited, readDone, grace+sigkillWait) {
		return nil
	}
	return errors.New("output still held open after SIGKILL of the process group (a process left the group)")
}

// waitBoth waits for both channels to close, at most d.
func waitBoth(a, b <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for a != nil || b != nil {
		select {
		case <-a:
			a = nil
		case <-b:
			b = nil
		case <-t.C:
			return false
		}
	}
	return true
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGPIPE:
		return "SIGPIPE"
	case syscall.SIGBUS:
		return "SIGBUS"
	}
	return "signal " + strconv.Itoa(int(s))
}

// quoteArgv writes argv as Go-quoted elements separated by spaces: one
// line, each element visible with its boundaries.
func quoteArgv(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(a))
		if b.Len() > maxLoggedArgv {
			return cut(b.String(), maxLoggedArgv)
		}
	}
	return b.String()
}

// refusal says why a command must not run, or "".
func refusal(f *Firing) string {
	if f.invalid != "" {
		return f.invalid
	}
	if f.shell && f.tainted {
		return "text from a log line would reach a shell command line"
	}
	if f.chosen {
		return "text from a log line would choose the program"
	}
	for i, a := range f.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "argv[" + strconv.Itoa(i) + "] contains a NUL byte"
		}
	}
	for _, kv := range f.Env {
		if strings.IndexByte(kv, 0) >= 0 {
			name, _, _ := strings.Cut(kv, "=")
			return "environment variable " + name + " contains a NUL byte"
		}
	}
	return ""
}

// Execute carries out a committed decision: it counts and logs the
// suppressed rises, starts or queues the commands and hands the reports to
// a delivery goroutine, and returns without waiting for any of them. Runs
// belong to the engine, not to ctx: they end by themselves, at their
// timeout, or at Wait. If ctx is already done (the daemon is stopping),
// nothing is started and the firings are recorded as dropped.
func (e *Engine) Execute(ctx context.Context, d *Decision) {
	if d == nil {
		return
	}
	e.mu.Lock()
	e.active = slices.Clone(d.Active)
	e.mu.Unlock()
	r := e.r
	for _, f := range d.Suppressed {
		r.mu.Lock()
		r.stats.Suppressed++
		r.mu.Unlock()
		args := []any{"kind", string(f.Kind), "handle", f.Handle, "guard", f.Guard, "reason", f.Reason}
		if f.Key != "" {
			args = append(args, "key", f.Key)
		}
		e.log.Info("actions: rise suppressed", args...)
	}
	if err := writeNotices(e.opts.NoticeLog, d.Notices); err != nil {
		r.mu.Lock()
		r.stats.NoticeLogErrors++
		r.mu.Unlock()
		e.log.Error("actions: notices not logged", "err", err)
	}
	fired := d.Fired
	for _, n := range d.Notices {
		if n.firing != nil {
			fired = append(fired[:len(fired):len(fired)], *n.firing)
		}
	}
	var reports []Firing
	for _, f := range fired {
		if ctx.Err() != nil {
			r.mu.Lock()
			r.dropLocked(&job{f: f}, "shutting down")
			r.mu.Unlock()
			continue
		}
		if f.Kind == KindReport {
			reports = append(reports, f)
			continue
		}
		e.command(f)
	}
	if len(reports) == 0 {
		return
	}
	if e.opts.DryRun {
		for _, f := range reports {
			e.log.Info("actions: dry run: would report", "handle", f.Handle, "guard", f.Guard, "to", f.To, "message", f.Message)
			r.mu.Lock()
			r.stats.DryRuns++
			r.record(RunRecord{Kind: KindReport, Handle: f.Handle, Key: f.Key, Guard: f.Guard, Message: f.Message, To: f.To,
				Start: time.Now(), ExitCode: -1, Outcome: OutcomeDryRun, DryRun: true})
			r.mu.Unlock()
		}
		return
	}
	r.mu.Lock()
	r.busy++
	r.mu.Unlock()
	go e.deliver(reports)
}

// command refuses, logs (dry run) or submits one command firing.
func (e *Engine) command(f Firing) {
	r := e.r
	if why := refusal(&f); why != "" {
		r.mu.Lock()
		r.stats.Refused++
		r.record(RunRecord{Kind: KindCommand, Handle: f.Handle, Key: f.Key, Guard: f.Guard, Argv: f.Argv, Start: time.Now(),
			ExitCode: -1, Outcome: OutcomeRefused, Err: why})
		r.mu.Unlock()
		e.log.Error("actions: command refused", "handle", f.Handle, "guard", f.Guard, "reason", why, "argv", quoteArgv(f.Argv))
		return
	}
	if e.opts.DryRun {
		e.log.Info("actions: dry run: would run", "handle", f.Handle, "guard", f.Guard,
			"argv", quoteArgv(f.Argv), "env", quoteArgv(f.Env), "timeout", f.Timeout)
		r.mu.Lock()
		r.stats.DryRuns++
		r.record(RunRecord{Kind: KindCommand, Handle: f.Handle, Key: f.Key, Guard: f.Guard, Argv: f.Argv, Env: f.Env,
			Start: time.Now(), ExitCode: -1, Outcome: OutcomeDryRun, DryRun: true})
		r.mu.Unlock()
		return
	}
	env := make([]string, 0, len(e.opts.Environ)+len(f.Env))
	env = append(append(env, e.opts.Environ...), f.Env...)
	r.submit(&job{f: f, env: env, enqueued: e.opts.Now(), kill: make(chan struct{})})
}

// Wait waits until every command has ended and every report has been
// delivered. When ctx ends first, queued commands are dropped and running
// ones are killed (SIGTERM, then SIGKILL after the grace), Wait waits for
// them to end, and returns ctx's error.
func (e *Engine) Wait(ctx context.Context) error {
	r := e.r
	for {
		r.mu.Lock()
		if r.busy == 0 {
			r.mu.Unlock()
			return nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
			continue
		case <-ctx.Done():
		}
		break
	}
	r.mu.Lock()
	r.stopping = true
	for _, j := range r.queue {
		delete(r.byHandle, j.f.runID())
		r.dropLocked(j, "shutting down")
	}
	r.queue = nil
	r.stats.Queued = 0
	for _, j := range r.byHandle {
		j.stop(OutcomeKilled)
	}
	grace := r.grace
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.stopping = false
		r.mu.Unlock()
	}()
	deadline := time.NewTimer(2*grace + 2*sigkillWait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		busy, ch := r.busy, r.changed
		r.mu.Unlock()
		if busy == 0 {
			return ctx.Err()
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("wait for commands: %d still running after kill: %w", busy, ctx.Err())
		}
	}
}

// Recent returns the last runs and report deliveries, oldest first.
func (e *Engine) Recent() []RunRecord {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	return slices.Clone(e.r.recent)
}

// Stats returns the counters and the current load.
func (e *Engine) Stats() Stats {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	return e.r.stats
}
