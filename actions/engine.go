package actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// Defaults of Options.
const (
	DefaultQueueSize  = 64
	DefaultKillGrace  = 5 * time.Second
	DefaultOutputCap  = 64 << 10
	DefaultRecentSize = 50
	DefaultShell      = "/bin/sh"
)

// State keys written by the engine.
const (
	keyActive   = "actions/active"
	prefixClass = "class/"
	prefixGuard = "guard/"
	prefixLock  = "lock/"
)

// Options configure an Engine.
type Options struct {
	// MaxConcurrent is the number of commands that may run at once; 0 takes
	// the rule set's max_concurrent_commands.
	MaxConcurrent int
	// QueueSize is the number of firings that may wait for a slot; beyond
	// it a firing is dropped and counted. 0: DefaultQueueSize.
	QueueSize int
	// DryRun logs what would run instead of running it.
	DryRun bool
	// Logger receives one line per run, report, suppression and problem;
	// nil discards.
	Logger *slog.Logger
	// Shell runs commands with shell: true; "" is DefaultShell.
	Shell string
	// Environ is the base environment of commands; nil is the daemon's.
	Environ []string
	// KillGrace is the time between SIGTERM and SIGKILL; 0: DefaultKillGrace.
	KillGrace time.Duration
	// OutputCap is the number of bytes of standard output, and of standard
	// error, kept per run; 0: DefaultOutputCap.
	OutputCap int
	// RecentSize is the number of runs Recent returns; 0: DefaultRecentSize.
	RecentSize int
	// Stderr receives reports to stderr and syslog reports that could not
	// be delivered; nil is os.Stderr.
	Stderr io.Writer
	// SyslogNetwork and SyslogAddr name the syslog daemon as log/syslog's
	// Dial does; both empty: the local one (/dev/log).
	SyslogNetwork string
	SyslogAddr    string
	// Now is the clock used for the age of runs (expireafter); nil is
	// time.Now.
	Now func() time.Time
	// NoticeLog is the file notices are appended to, one JSON object a
	// line; "" writes none.
	NoticeLog string
}

// Engine keeps classes over time and runs commands and reports. Decide and
// Load must not be called concurrently with each other; every other method
// is safe for concurrent use.
type Engine struct {
	set      *rules.Set
	opts     Options
	log      *slog.Logger
	persist  map[string]persistence // persistable measurement classes
	users    map[string]bool        // user class names
	meas     map[string]bool        // measurement handles
	keyTypes map[string]string      // key_type by measurement handle
	handles  map[string]bool        // command and report handles
	named    map[string]bool        // classes whose rises are notices
	r        *runner

	pruned bool // stale guards and locks deleted (first Decide)

	mu       sync.Mutex
	active   []ActiveClass
	warned   map[string]bool
	unsettle bool
}

type persistence struct {
	d      time.Duration
	policy string
}

// New returns an Engine for the rule set. It starts no goroutine: runs
// start in Execute.
func New(set *rules.Set, opts Options) (*Engine, error) {
	return newEngine(set, opts, nil)
}

// Rebuild returns an Engine for a reloaded rule set that shares e's running
// commands, queue, counters and recent runs, so that a reload neither
// forgets a run still going nor starts a second one of the same handle.
// Call Load on the result as with New.
func (e *Engine) Rebuild(set *rules.Set, opts Options) (*Engine, error) {
	return newEngine(set, opts, e.r)
}

func newEngine(set *rules.Set, opts Options, r *runner) (*Engine, error) {
	if set == nil {
		return nil, errors.New("new actions: no rule set")
	}
	if opts.MaxConcurrent < 0 || opts.QueueSize < 0 || opts.KillGrace < 0 || opts.OutputCap < 0 || opts.RecentSize < 0 {
		return nil, errors.New("new actions: negative limit in options")
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = set.Settings.MaxConcurrentCommands
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = rules.DefaultMaxConcurrentCommands
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.KillGrace == 0 {
		opts.KillGrace = DefaultKillGrace
	}
	if opts.OutputCap == 0 {
		opts.OutputCap = DefaultOutputCap
	}
	if opts.RecentSize == 0 {
		opts.RecentSize = DefaultRecentSize
	}
	if opts.Shell == "" {
		opts.Shell = DefaultShell
	}
	if !filepath.IsAbs(opts.Shell) {
		return nil, fmt.Errorf("new actions: shell %q is not an absolute path", opts.Shell)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	e := &Engine{
		set:      set,
		opts:     opts,
		log:      opts.Logger,
		persist:  map[string]persistence{},
		users:    map[string]bool{},
		meas:     map[string]bool{},
		keyTypes: map[string]string{},
		handles:  map[string]bool{},
		warned:   map[string]bool{},
	}
	for _, m := range set.Measurements {
		e.meas[m.Handle] = true
		e.keyTypes[m.Handle] = m.KeyType
		if m.Persist <= 0 {
			continue
		}
		for _, c := range m.Classes() {
			if history.Persists(c) {
				e.persist[c] = persistence{m.Persist, m.PersistPolicy}
			}
		}
	}
	for _, w := range set.Watches {
		e.meas[w.Handle] = true
		if w.Persist > 0 {
			for _, c := range w.Classes() {
				e.persist[c] = persistence{w.Persist, w.PersistPolicy}
			}
		}
	}
	for _, c := range set.Classes {
		e.users[c.Name] = true
	}
	for _, c := range set.Commands {
		e.handles[c.Handle] = true
	}
	for _, r := range set.Reports {
		e.handles[r.Handle] = true
	}
	e.named = set.NoticeClasses()
	if r == nil {
		r = newRunner(opts.Logger)
	}
	r.configure(opts)
	e.r = r
	return e, nil
}

// Interval is what the daemon knows at the end of one interval.
type Interval struct {
	Start, End time.Time          // the interval just closed
	Classes    []string           // measurement classes set this interval
	Vars       map[string]float64 // value_h, av_h, dev_h, z_h
	Keys       map[string]string  // top_h: text from a log line, validated by key_type
}

// ActiveClass is a class set now.
type ActiveClass struct {
	Name string `json:"name"`
	// Until is when a persistent class stops being set unless set again;
	// zero for a class that is set for this interval only.
	Until time.Time `json:"until,omitzero"`
	// Persisted is true when only persistence keeps the class set.
	Persisted bool `json:"persisted,omitempty"`
}

// ClassChange is a class that became set or unset since the previous
// interval.
type ClassChange struct {
	Name string
	Set  bool
}

// Kind says whether a firing is a command or a report.
type Kind string

// Kinds of firings.
const (
	KindCommand Kind = "command"
	KindReport  Kind = "report"
)

// Reasons a rise is suppressed.
const (
	ReasonIfElapsed = "ifelapsed"
	ReasonRunning   = "running"
)

// Firing is a command or report whose guard rose.
type Firing struct {
	Kind   Kind
	Handle string
	Guard  string    // the if: expression
	Time   time.Time // end of the interval
	// Reason says why a suppressed firing was suppressed.
	Reason string
	// Key is the source a per: key firing is for ($(key)), from the top
	// keys of measurement KeyOf; empty without per: key.
	Key   string
	KeyOf string
	// Notice is the class of the notice an alarm or a page is for.
	Notice string
	// Replace is set when a run of the command older than its expireafter
	// is still going: Execute kills it and starts this one after it.
	Replace bool

	Argv    []string      // command: as it will be run, expanded
	Env     []string      // command: env: and LOGTALLY_* as NAME=value
	Timeout time.Duration // command
	Message string        // report: expanded, one line
	To      string        // report: stderr, syslog or a file path

	shell   bool   // argv goes through a shell
	tainted bool   // some argv element carries text from a log line
	chosen  bool   // argv[0], the program, carries text from a log line
	invalid string // a key it uses fails its key_type
}

// Decision is the outcome of one interval.
type Decision struct {
	Active     []ActiveClass // every class set now, sorted by name, without any
	Changes    []ClassChange // classes set or unset since the previous interval, sorted
	Fired      []Firing      // guards that rose and passed ifelapsed, in rule order
	Suppressed []Firing      // rose but within ifelapsed or with a run still going
	// Notices are the rises of classes the rules name, with what the
	// policy did, and the tally lines that are due.
	Notices []Notice
}

// record is a persistent class in the state file.
type record struct {
	Until time.Time `json:"until"`
}

// Load reads the engine's state from tx: the active classes of the last
// decision, shown by Active until the first Execute. Persistent classes,
// guards and locks are read by Decide itself, in the interval's
// transaction. Entries that cannot be decoded are logged and ignored.
func (e *Engine) Load(tx *state.Tx) error {
	prev, err := e.readActive(tx)
	if err != nil {
		return fmt.Errorf("load actions: %w", err)
	}
	e.mu.Lock()
	e.active = prev
	e.mu.Unlock()
	return nil
}

func (e *Engine) readActive(tx *state.Tx) ([]ActiveClass, error) {
	var prev []ActiveClass
	ok, err := tx.GetJSON(keyActive, &prev)
	switch {
	case err != nil && ok: // present but not decodable
		e.log.Warn("actions: ignoring unreadable active classes in the state file", "key", keyActive, "err", err)
		return nil, nil
	case err != nil:
		return nil, err
	}
	return prev, nil
}

// Active returns the classes of the last executed decision (or, before
// the first, of the last one stored), with the expiry of persistent ones.
func (e *Engine) Active() []ActiveClass {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.active)
}

// Decide computes the classes of the interval and what fires, reading and
// writing the engine's state in tx (see the package comment). It starts
// nothing: pass the decision to Execute once tx has committed.
func (e *Engine) Decide(tx *state.Tx, in Interval) (*Decision, error) {
	if in.End.IsZero() {
		return nil, errors.New("decide: interval has no end time")
	}
	now := in.End
	if !e.pruned {
		if err := e.prune(tx); err != nil {
			return nil, err
		}
		e.pruned = true
	}

	recs, err := e.readRecords(tx, now)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{"any": true}
	for _, c := range in.Classes {
		if c != "nothing" && !e.users[c] {
			set[c] = true
		}
	}
	for _, c := range in.Classes {
		if p, ok := e.persist[c]; ok {
			if err := touch(tx, recs, c, p, now); err != nil {
				return nil, err
			}
		}
	}
	alive := map[string]bool{} // persisted classes set before this interval's user classes
	for name := range recs {
		alive[name] = true
		set[name] = true
	}
	// Hard classes (time, host) are set for the expressions, not shown as
	// classes of the interval: they would change every few minutes.
	hard := e.hardClasses(in.Start, in.End)
	isSet := func(n string) bool { return set[n] || hard[n] }
	if err := e.expireKeyLocks(tx, now); err != nil {
		return nil, err
	}
	value := func(n string) (float64, bool) { v, ok := in.Vars[n]; return v, ok }
	exprTrue := e.userClasses(set, alive, isSet, value)
	for _, c := range e.set.Classes {
		if exprTrue[c.Name] && c.Persist > 0 {
			if err := touch(tx, recs, c.Name, persistence{c.Persist, c.PersistPolicy}, now); err != nil {
				return nil, err
			}
		}
	}

	// The classes this interval sets by itself, without the ones only
	// persistence holds: a per: key command fires for a new source only
	// while its guard holds on these, so that a class held for minutes
	// after a storm does not fire for every ordinary source that tops the
	// quiet intervals after it.
	fresh := map[string]bool{"any": true}
	for _, c := range in.Classes {
		if c != "nothing" && !e.users[c] {
			fresh[c] = true
		}
	}
	isFresh := func(n string) bool { return fresh[n] || hard[n] }
	e.userClasses(fresh, nil, isFresh, value)

	d := &Decision{}
	names := make([]string, 0, len(set))
	for name := range set {
		if name != "any" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ac := ActiveClass{Name: name}
		if until, ok := recs[name]; ok {
			ac.Until = until
			ac.Persisted = alive[name] && !isSetNow(name, in.Classes, exprTrue)
		}
		d.Active = append(d.Active, ac)
	}
	if err := e.changes(tx, d); err != nil {
		return nil, err
	}

	x := &expander{e: e, in: &in, classes: strings.Join(names, " ")}
	// fire decides the firings of a command's or report's guard (f is its
	// firing without a key) and completes each one that fires (fill: its
	// argv or message, expanded for its key).
	fire := func(f Firing, guard *rules.Expr, ifElapsed, expireAfter time.Duration, perKey []string, fill func(*Firing)) error {
		g := guardNow{now: guard.EvalVars(isSet, value), fresh: len(perKey) > 0 && guard.EvalVars(isFresh, value)}
		fs, err := e.rise(tx, f, g, ifElapsed, expireAfter, perKey, &in)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.Reason != "" {
				d.Suppressed = append(d.Suppressed, f)
				continue
			}
			x.key, x.keyOf = f.Key, f.KeyOf
			fill(&f)
			d.Fired = append(d.Fired, f)
		}
		return nil
	}
	for _, c := range e.set.Commands {
		f := Firing{Kind: KindCommand, Handle: c.Handle, Guard: c.If.String(), Time: now, Timeout: c.Timeout}
		if f.Timeout <= 0 {
			f.Timeout = rules.DefaultCommandTimeout // a hung command is always killed
		}
		if err := fire(f, c.If, c.IfElapsed, c.ExpireAfter, c.PerKey, func(f *Firing) { x.command(c, f) }); err != nil {
			return nil, err
		}
	}
	for _, r := range e.set.Reports {
		f := Firing{Kind: KindReport, Handle: r.Handle, Guard: r.If.String(), Time: now, To: r.To}
		if err := fire(f, r.If, r.IfElapsed, -1, r.PerKey, func(f *Firing) { f.Message = x.report(r.Message) }); err != nil {
			return nil, err
		}
	}
	if err := e.notices(tx, d, &in, x, isSet, isFresh, value); err != nil {
		return nil, err
	}
	return d, nil
}

// guardNow is a command's or report's guard at the end of an interval:
// true with every class set (now), and true on the classes the interval
// set by itself, without those only persistence holds (fresh; computed for
// per: key guards only).
type guardNow struct{ now, fresh bool }

// rise decides what a command or report whose guard is now true (or not)
// fires: nothing, f once when the guard rose, or, with per: key, f once
// for each source of perKey's measurements that is new in the guard's true
// stretch. A firing with a Reason was suppressed.
func (e *Engine) rise(tx *state.Tx, f Firing, g guardNow, ifElapsed, expireAfter time.Duration, perKey []string, in *Interval) ([]Firing, error) {
	if len(perKey) > 0 {
		return e.perKeyRise(tx, f, g, ifElapsed, expireAfter, perKey, in)
	}
	fire, err := e.guard(tx, f.Handle, g.now, ifElapsed, f.Time, &f, expireAfter)
	if err != nil || !fire && f.Reason == "" {
		return nil, err
	}
	return []Firing{f}, nil
}

// hardClasses returns the hard classes of an interval: CFEngine's time
// classes of its start (the time its lines belong to) in the baseline's
// time zone, and the host classes.
func (e *Engine) hardClasses(start, end time.Time) map[string]bool {
	at := start
	if at.IsZero() {
		at = end
	}
	out := map[string]bool{}
	for _, c := range rules.TimeClasses(at, e.set.Settings.Location) {
		out[c] = true
	}
	for _, c := range rules.HostClasses(e.set.Settings.Host) {
		out[c] = true
	}
	return out
}

func isSetNow(name string, measured []string, exprTrue map[string]bool) bool {
	return exprTrue[name] || slices.Contains(measured, name)
}

// readRecords returns the persistent classes alive at now and deletes the
// expired and unreadable ones.
func (e *Engine) readRecords(tx *state.Tx, now time.Time) (history.Persistent, error) {
	recs := history.Persistent{}
	var dead []string
	err := tx.Ascend(prefixClass, func(key, value string) bool {
		var r record
		if err := json.Unmarshal([]byte(value), &r); err != nil {
			e.log.Warn("actions: deleting unreadable persistent class from the state file", "key", key, "err", err)
			dead = append(dead, key)
			return true
		}
		recs[strings.TrimPrefix(key, prefixClass)] = r.Until
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	for _, c := range recs.Expire(now) {
		dead = append(dead, prefixClass+c)
	}
	for _, k := range dead {
		if err := tx.Delete(k); err != nil {
			return nil, fmt.Errorf("decide: %w", err)
		}
	}
	return recs, nil
}

// touch records that class c was set at now, following its policy (see
// history.Persistent), in recs and in tx.
func touch(tx *state.Tx, recs history.Persistent, c string, p persistence, now time.Time) error {
	if !recs.Touch(c, p.d, p.policy == rules.PersistReset, now) {
		return nil // preserve: the first expiry stands
	}
	if err := tx.SetJSON(prefixClass+c, record{Until: recs[c]}); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	return nil
}

// userClasses evaluates the user classes into set, to a fixpoint, and
// returns those whose expression is true. alive are the classes set by
// persistence; isSet sees set and the hard classes, value the variables.
func (e *Engine) userClasses(set, alive map[string]bool, isSet func(string) bool, value func(string) (float64, bool)) map[string]bool {
	classes := e.set.Classes
	exprTrue := make(map[string]bool, len(classes))
	var moving []string
	for pass := 0; pass <= len(classes); pass++ {
		moving = moving[:0]
		for _, c := range classes {
			v := c.Expr.EvalVars(isSet, value)
			exprTrue[c.Name] = v
			nv := v || alive[c.Name]
			if nv != set[c.Name] {
				moving = append(moving, c.Name)
				if nv {
					set[c.Name] = true
				} else {
					delete(set, c.Name)
				}
			}
		}
		if len(moving) == 0 {
			return exprTrue
		}
	}
	e.mu.Lock()
	first := !e.unsettle
	e.unsettle = true
	e.mu.Unlock()
	if first {
		e.log.Warn("actions: user classes do not settle (a cycle through !); keeping the last evaluation",
			"classes", strings.Join(moving, " "))
	}
	return exprTrue
}

// changes fills d.Changes against the stored active classes of the
// previous decision and stores the new ones.
func (e *Engine) changes(tx *state.Tx, d *Decision) error {
	prev, err := e.readActive(tx)
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	was := make(map[string]bool, len(prev))
	for _, a := range prev {
		was[a.Name] = true
	}
	is := make(map[string]bool, len(d.Active))
	for _, a := range d.Active {
		is[a.Name] = true
		if !was[a.Name] {
			d.Changes = append(d.Changes, ClassChange{Name: a.Name, Set: true})
		}
	}
	for _, a := range prev {
		if !is[a.Name] {
			d.Changes = append(d.Changes, ClassChange{Name: a.Name, Set: false})
		}
	}
	slices.SortFunc(d.Changes, func(a, b ClassChange) int { return strings.Compare(a.Name, b.Name) })
	if slices.EqualFunc(prev, d.Active, func(a, b ActiveClass) bool {
		return a.Name == b.Name && a.Until.Equal(b.Until) && a.Persisted == b.Persisted
	}) {
		return nil
	}
	active := d.Active
	if active == nil {
		active = []ActiveClass{}
	}
	if err := tx.SetJSON(keyActive, active); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	return nil
}

// guard updates the stored value of a guard and reports whether it fires.
// When a rise is suppressed it sets f.Reason. expireAfter < 0 means f is a
// report, which has no runs.
func (e *Engine) guard(tx *state.Tx, handle string, now bool, ifElapsed time.Duration, t time.Time, f *Firing, expireAfter time.Duration) (bool, error) {
	key := prefixGuard + handle
	_, prev, err := tx.Get(key)
	if err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	switch {
	case now && !prev:
		err = tx.Set(key, "1")
	case !now && prev:
		err = tx.Delete(key)
	}
	if err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	if !now || prev {
		return false, nil
	}
	lockKey := prefixLock + handle
	if ifElapsed > 0 {
		v, ok, err := tx.Get(lockKey)
		if err != nil {
			return false, fmt.Errorf("decide: %w", err)
		}
		if ok {
			last, perr := time.Parse(time.RFC3339Nano, v)
			if perr != nil {
				e.log.Warn("actions: ignoring unreadable last-run time in the state file", "key", lockKey, "err", perr)
			} else if since := t.Sub(last); since < ifElapsed && -since < ifElapsed {
				f.Reason = ReasonIfElapsed
				return false, nil
			}
		}
	}
	if e.running(f, handle, expireAfter) {
		return false, nil
	}
	if err := tx.Set(lockKey, t.UTC().Format(time.RFC3339Nano)); err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	return true, nil
}

// running reports whether the run id of a command is still going from an
// earlier firing, so that f does not fire (ReasonRunning); a run older
// than expireAfter (> 0) is replaced by f instead (f.Replace).
// expireAfter < 0 means f is a report, which has no runs.
func (e *Engine) running(f *Firing, id string, expireAfter time.Duration) bool {
	if expireAfter < 0 {
		return false
	}
	exists, age := e.r.status(id)
	switch {
	case exists && expireAfter > 0 && age >= expireAfter:
		f.Replace = true
	case exists:
		f.Reason = ReasonRunning
		return true
	}
	return false
}

// prune deletes guards and locks of handles no longer in the rule set.
func (e *Engine) prune(tx *state.Tx) error {
	for _, prefix := range []string{prefixGuard, prefixLock} {
		err := deleteWhere(tx, prefix, func(key, _ string) bool {
			return !e.handles[strings.TrimPrefix(key, prefix)]
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes the keys under prefix whose key and value stale
// says are over (expired, of a rule that is gone, unreadable).
func deleteWhere(tx *state.Tx, prefix string, stale func(key, value string) bool) error {
	var dead []string
	err := tx.Ascend(prefix, func(k, v string) bool {
		if stale(k, v) {
			dead = append(dead, k)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	for _, k := range dead {
		if err := tx.Delete(k); err != nil {
			return fmt.Errorf("decide: %w", err)
		}
	}
	return nil
}

// warnOnce logs msg with the name the first time it is seen.
func (e *Engine) warnOnce(msg, name string) {
	e.mu.Lock()
	seen := e.warned[msg+"\x00"+name]
	e.warned[msg+"\x00"+name] = true
	e.mu.Unlock()
	if !seen {
		e.log.Warn(msg, "name", name)
	}
}

// ReadActive returns the classes of the last decision stored in a state
// file, with the expiry of persistent ones, for `logtally status`.
func ReadActive(tx *state.Tx) ([]ActiveClass, error) {
	var active []ActiveClass
	if _, err := tx.GetJSON(keyActive, &active); err != nil {
		return nil, fmt.Errorf("read active classes: %w", err)
	}
	return active, nil
}
