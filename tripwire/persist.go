package tripwire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/logtally/logtally/state"
)

// State keys of a watch, all under Prefix + handle + "/":
//
//	watch/<handle>/meta          Meta
//	watch/<handle>/b/<path>      the baseline entry of a path
//	watch/<handle>/s/<path>      what was seen of a path, where it differs
//	                             from the baseline (update_hashes: no)
const Prefix = "watch/"

func keyMeta(handle string) string       { return Prefix + handle + "/meta" }
func keyBase(handle, path string) string { return Prefix + handle + "/b/" + path }
func keySeen(handle, path string) string { return Prefix + handle + "/s/" + path }

// Load reads the saved state of a watch.
func Load(tx *state.Tx, handle string) (Meta, map[string]*Entry, map[string]*Entry, error) {
	var meta Meta
	if _, err := tx.GetJSON(keyMeta(handle), &meta); err != nil {
		return Meta{}, nil, nil, fmt.Errorf("load watch %s: %w", handle, err)
	}
	read := func(prefix string) (map[string]*Entry, error) {
		out := map[string]*Entry{}
		var derr error
		err := tx.Ascend(prefix, func(k, v string) bool {
			var e Entry
			if err := json.Unmarshal([]byte(v), &e); err != nil {
				derr = fmt.Errorf("decode %s: %w", k, err)
				return false
			}
			out[strings.TrimPrefix(k, prefix)] = &e
			return true
		})
		if err == nil {
			err = derr
		}
		return out, err
	}
	base, err := read(Prefix + handle + "/b/")
	if err != nil {
		return Meta{}, nil, nil, fmt.Errorf("load watch %s: %w", handle, err)
	}
	seen, err := read(Prefix + handle + "/s/")
	if err != nil {
		return Meta{}, nil, nil, fmt.Errorf("load watch %s: %w", handle, err)
	}
	return meta, base, seen, nil
}

// Commit writes a delta in the transaction.
func Commit(tx *state.Tx, handle string, d Delta) error {
	put := func(key string, e *Entry) error {
		if e == nil {
			return tx.Delete(key)
		}
		return tx.SetJSON(key, e)
	}
	for _, p := range slices.Sorted(maps.Keys(d.Base)) {
		if err := put(keyBase(handle, p), d.Base[p]); err != nil {
			return fmt.Errorf("commit watch %s: %w", handle, err)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(d.Seen)) {
		if err := put(keySeen(handle, p), d.Seen[p]); err != nil {
			return fmt.Errorf("commit watch %s: %w", handle, err)
		}
	}
	if d.Meta != nil {
		if err := tx.SetJSON(keyMeta(handle), d.Meta); err != nil {
			return fmt.Errorf("commit watch %s: %w", handle, err)
		}
	}
	return nil
}

// Drop deletes the state of a watch the rules no longer have.
func Drop(tx *state.Tx, handle string) error {
	var keys []string
	if err := tx.Ascend(Prefix+handle+"/", func(k, _ string) bool {
		keys = append(keys, k)
		return true
	}); err != nil {
		return fmt.Errorf("drop watch %s: %w", handle, err)
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return fmt.Errorf("drop watch %s: %w", handle, err)
		}
	}
	return nil
}

// Handles returns the handles of the watches that have a saved state.
func Handles(tx *state.Tx) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := tx.Ascend(Prefix, func(k, _ string) bool {
		h, _, ok := strings.Cut(strings.TrimPrefix(k, Prefix), "/")
		if ok && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
		return true
	})
	return out, err
}

// LogEntry is one line of the change log, as CFEngine's file_changes.log
// has one per change.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Handle  string    `json:"handle"`
	Path    string    `json:"path"`
	Change  string    `json:"change"`
	Details []string  `json:"details,omitempty"`
}

// AppendLog appends the fresh changes of a scan to the change log at path,
// one JSON object a line, in one write; the file is created readable by
// its owner only, since it names files an attacker may have touched.
func AppendLog(path, handle string, at time.Time, changes []Change) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one object a line
	enc.SetEscapeHTML(false)     // "0644 -> 0600", not "0644 -\u003e 0600"
	for _, c := range changes {
		if !c.Fresh {
			continue
		}
		if err := enc.Encode(LogEntry{Time: at.UTC(), Handle: handle, Path: c.Path, Change: c.Kind, Details: c.Details}); err != nil {
			return fmt.Errorf("append change log: %w", err)
		}
	}
	b := buf.Bytes()
	if len(b) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("append change log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("append change log: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("append change log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append change log: %w", err)
	}
	return nil
}
