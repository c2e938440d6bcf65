package actions

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// State keys of per-key firings.
const (
	// prefixKeyLock + <handle> + "/" + <key>: the last firing of a per:
	// key command or report for that key (RFC 3339), deleted once older
	// than its ifelapsed.
	prefixKeyLock = "keylock/"
)

// maxStretchKeys bounds the keys remembered for one guard's true stretch:
// beyond it the oldest are forgotten (and could fire again, subject to
// ifelapsed).
const maxStretchKeys = 1000

// runID identifies a firing's runs: its handle, and for a per: key firing
// its key too, so that the commands of two sources run side by side.
func (f *Firing) runID() string {
	switch {
	case f.Notice != "":
		return f.Handle + "\x00" + f.Notice + "\x00" + f.Key
	case f.Key != "":
		return f.Handle + "\x00" + f.Key
	}
	return f.Handle
}

func keyLockKey(handle, key string) string { return prefixKeyLock + handle + "/" + key }

// perKeyRise decides the firings of a per: key command or report. While
// its guard is true on the interval's own classes (gd.fresh), each top
// source ($(top_h)) of the measurements in perKey that the guard's current
// true stretch has not yet seen fires once, unless it fired within
// ifelapsed (its lock is per source) or a run for it is still going. While
// the guard holds only through persisted classes, the stretch goes on but
// no new source fires: the sources of the quiet intervals after a storm
// are not the storm's. The sources seen are stored under guard/<handle> as
// a JSON list, and forgotten when the guard falls.
func (e *Engine) perKeyRise(tx *state.Tx, f Firing, gd guardNow, ifElapsed, expireAfter time.Duration, perKey []string, in *Interval) ([]Firing, error) {
	now := gd.now
	gkey := prefixGuard + f.Handle
	raw, had, err := tx.Get(gkey)
	if err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	if !now {
		if had {
			if err := tx.Delete(gkey); err != nil {
				return nil, fmt.Errorf("decide: %w", err)
			}
		}
		return nil, nil
	}
	var seen []string
	if had && raw != "1" {
		if err := json.Unmarshal([]byte(raw), &seen); err != nil {
			e.log.Warn("actions: ignoring unreadable per-key guard in the state file", "key", gkey, "err", err)
			seen = nil
		}
	}
	inStretch := map[string]bool{}
	for _, k := range seen {
		inStretch[k] = true
	}
	var out []Firing
	changed := !had
	for _, h := range perKey {
		if !gd.fresh {
			break
		}
		k := in.Keys[rules.VarTop+h]
		if k == "" || inStretch[k] {
			continue
		}
		inStretch[k] = true
		seen = append(seen, k)
		changed = true
		g := f
		g.Key, g.KeyOf = k, h
		fire, err := e.keyLock(tx, &g, ifElapsed, expireAfter)
		if err != nil {
			return nil, err
		}
		if fire || g.Reason != "" {
			out = append(out, g)
		}
	}
	if !changed {
		return out, nil
	}
	if len(seen) > maxStretchKeys {
		seen = seen[len(seen)-maxStretchKeys:]
	}
	if seen == nil {
		seen = []string{}
	}
	if err := tx.SetJSON(gkey, seen); err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	return out, nil
}

// keyLock applies ifelapsed and the runs still going to a per-key firing,
// as guard does for a firing without a key, and records the firing.
func (e *Engine) keyLock(tx *state.Tx, f *Firing, ifElapsed, expireAfter time.Duration) (bool, error) {
	lk := keyLockKey(f.Handle, f.Key)
	if ifElapsed > 0 {
		v, ok, err := tx.Get(lk)
		if err != nil {
			return false, fmt.Errorf("decide: %w", err)
		}
		if ok {
			if last, perr := time.Parse(time.RFC3339Nano, v); perr == nil {
				if since := f.Time.Sub(last); since < ifElapsed && -since < ifElapsed {
					f.Reason = ReasonIfElapsed
					return false, nil
				}
			}
		}
	}
	if e.running(f, f.runID(), expireAfter) {
		return false, nil
	}
	if ifElapsed <= 0 {
		return true, nil
	}
	if err := tx.Set(lk, f.Time.UTC().Format(time.RFC3339Nano)); err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	return true, nil
}

// expireKeyLocks deletes the per-key locks that no longer hold at now
// (older than their rule's ifelapsed) and those of rules no longer in the
// rule set or no longer per key, so that the sources an attacker invents
// leave nothing behind beyond ifelapsed.
func (e *Engine) expireKeyLocks(tx *state.Tx, now time.Time) error {
	elapsed := map[string]time.Duration{}
	for _, c := range e.set.Commands {
		if len(c.PerKey) > 0 {
			elapsed[c.Handle] = c.IfElapsed
		}
	}
	for _, r := range e.set.Reports {
		if len(r.PerKey) > 0 {
			elapsed[r.Handle] = r.IfElapsed
		}
	}
	return deleteWhere(tx, prefixKeyLock, func(k, v string) bool {
		h, _, _ := strings.Cut(strings.TrimPrefix(k, prefixKeyLock), "/")
		d, ok := elapsed[h]
		last, perr := time.Parse(time.RFC3339Nano, v)
		return !ok || perr != nil || now.Sub(last) >= d || last.Sub(now) >= d
	})
}
