// Package tripwire watches files for changes, as CFEngine 3's `changes`
// body does: it keeps an accepted baseline of every watched file — its
// content hash, permissions, owner, group, size and modification time —
// and reports the files whose content or attributes differ from it, the
// files added and the files removed.
//
// A Watcher is driven by Scan, once per interval. Each scan lists the
// watched trees (lstat only: a symbolic link is recorded with its target
// and never followed, so nothing outside a watched tree is ever read) and
// hashes the files whose content must be known, at most Config.MaxBytes
// bytes per scan: a large tree is hashed over several scans, a large file
// is hashed in pieces (the digest's state is kept between scans), and
// Progress says how far it has come. A file whose attributes (size,
// mtime, ctime, inode) have not moved since it was last hashed keeps its
// hash; what budget is left re-verifies such files in turn, so that even a
// change that kept every attribute is found within a few scans.
//
// The first listing of a tree is its baseline and reports nothing. Then:
//
//   - report_changes: all reports content and attribute changes, content
//     only content (and a symlink's target), stats only attributes, none
//     neither; files added and removed are reported in every mode, as
//     CFEngine does for a changes body.
//   - update_hashes: yes accepts each change as it is reported (it is
//     reported once); no reports it at every scan until it is accepted
//     (Accept, from `logtally accept-changes`).
//
// A directory that cannot be read is not taken for a removal of what it
// held; a listing cut short by MaxFiles reports no removals.
//
// The state that must survive a restart (the baseline and, with
// update_hashes: no, what was seen that differs from it) leaves Scan as a
// Delta, which the caller commits in the same transaction as the interval
// it belongs to, and comes back through Restore.
package tripwire

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"fmt"
	"hash"
	"strings"
)

// Hash algorithms.
const (
	HashSHA256 = "sha256"
	HashSHA512 = "sha512"
	// HashBest is CFEngine's "the strongest available", SHA-512.
	HashBest = "best"
)

// Report modes, CFEngine's report_changes.
const (
	ReportAll     = "all"
	ReportContent = "content"
	ReportStats   = "stats"
	ReportNone    = "none"
)

// Defaults.
const (
	DefaultMaxBytes = 256 << 20 // hashed per scan
	DefaultMaxFiles = 200000    // entries listed per watch
)

// Config is one watch.
type Config struct {
	// Paths are files, directories (watched recursively) and globs.
	Paths []string
	// Exclude are globs: one with a slash is matched against the whole
	// path, one without against the base name. An excluded directory is
	// not descended into.
	Exclude []string
	Hash    string // HashSHA256, HashSHA512 or HashBest
	Report  string // ReportAll, ReportContent, ReportStats or ReportNone
	Update  bool   // update_hashes
	// MaxBytes bounds the bytes hashed per scan; DefaultMaxBytes when 0.
	MaxBytes int64
	// MaxFiles bounds the entries listed; DefaultMaxFiles when 0.
	MaxFiles int
}

func (c *Config) algorithm() string {
	if c.Hash == HashBest || c.Hash == "" {
		if c.Hash == "" {
			return HashSHA256
		}
		return HashSHA512
	}
	return c.Hash
}

func (c *Config) content() bool { return c.Report == ReportAll || c.Report == ReportContent }
func (c *Config) stats() bool   { return c.Report == ReportAll || c.Report == ReportStats }

func newHash(alg string) hash.Hash {
	if alg == HashSHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// The digests of crypto/sha256 and crypto/sha512 can save their state, so
// that a large file is hashed over several scans.
var (
	_ encoding.BinaryMarshaler   = sha256.New().(encoding.BinaryMarshaler)
	_ encoding.BinaryUnmarshaler = sha512.New().(encoding.BinaryUnmarshaler)
)

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeOther   = "other" // device, FIFO, socket: attributes only
)

// Entry is what is known of one path.
type Entry struct {
	Type  string `json:"type"`
	Mode  uint32 `json:"mode"` // permission bits with setuid, setgid and sticky
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"` // nanoseconds since the epoch
	// Sig identifies the file's state for hashing: a hash computed when
	// the file had this signature is still its hash.
	Sig Sig `json:"sig"`
	// Hash is "algorithm:hex" of the content (files), empty until known.
	Hash string `json:"hash,omitempty"`
	// HashSig is the signature the file had when Hash was computed.
	HashSig Sig    `json:"hash_sig,omitzero"`
	Target  string `json:"target,omitempty"` // symbolic link target
	// Gone marks, in what was seen, a file of the baseline that is no
	// longer there (update_hashes: no keeps reporting it).
	Gone bool `json:"gone,omitempty"`
}

// Sig is what changes when a file's content may have: size, mtime, ctime
// (which no one can set back), inode and device.
type Sig struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
	Ino   uint64 `json:"ino"`
	Dev   uint64 `json:"dev"`
}

// hashCurrent reports whether e's hash is that of its present content (as
// far as attributes tell) and made with alg.
func (e *Entry) hashCurrent(alg string) bool {
	return e.Hash != "" && e.HashSig == e.Sig && strings.HasPrefix(e.Hash, alg+":")
}

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed" // content or attributes
)

// Change is one path that differs from the baseline.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"change"`
	// Details say what differs for a Changed path, in CFEngine's words:
	// "content", "permissions 0644 -> 0600", "owner 0 -> 1000", "group",
	// "size", "mtime", "type", "target".
	Details []string `json:"details,omitempty"`
	Old     *Entry   `json:"old,omitempty"`
	New     *Entry   `json:"new,omitempty"`
	// Fresh is true in the first scan that reports the change as it is
	// (update_hashes: no reports it again in later scans, not fresh).
	Fresh bool `json:"-"`
}

// String is one line for a log: "changed /etc/passwd: content, size 10 -> 12".
func (c Change) String() string {
	if len(c.Details) == 0 {
		return c.Kind + " " + c.Path
	}
	return c.Kind + " " + c.Path + ": " + strings.Join(c.Details, ", ")
}

// Progress is how far a watch has come.
type Progress struct {
	Files        int   `json:"files"`         // entries listed
	Bytes        int64 `json:"bytes"`         // bytes of the regular files listed
	PendingFiles int   `json:"pending_files"` // files whose hash is not known yet
	PendingBytes int64 `json:"pending_bytes"` // bytes still to hash for them
	HashedBytes  int64 `json:"hashed_bytes"`  // bytes hashed by the last scan
	Unreadable   int   `json:"unreadable"`    // entries that could not be read
	Truncated    bool  `json:"truncated"`     // the listing stopped at MaxFiles
	// Complete is true once every file's hash is known.
	Complete bool `json:"complete"`
}

// Meta is the state of a watch apart from its entries.
type Meta struct {
	// Roots are the configured paths whose first listing was taken as
	// the baseline; a path added to the rules later is baselined in
	// turn, not reported as added.
	Roots []string `json:"roots"`
	// Exclude is the exclusion list the baseline was made with: a file
	// it excluded that the present list does not is baselined, not
	// reported as added.
	Exclude []string `json:"exclude,omitempty"`
}

// Delta is what a scan changed of the state to keep: for each path, the
// new baseline entry and the new seen entry that differs from the
// baseline (nil: delete it).
type Delta struct {
	Base map[string]*Entry
	Seen map[string]*Entry
	Meta *Meta // nil when unchanged
}

// Empty reports whether there is nothing to write.
func (d *Delta) Empty() bool { return len(d.Base) == 0 && len(d.Seen) == 0 && d.Meta == nil }

// Result is what one scan found.
type Result struct {
	// Changes are the differences reported by this scan, sorted by path.
	Changes []Change
	// Delta is the state to commit with the scan.
	Delta    Delta
	Progress Progress
	// Errors are paths that could not be read, with why (at most
	// maxErrors of them).
	Errors []error
}

// Paths returns the paths of the changes of one kind, sorted.
func (r *Result) Paths(kind string) []string {
	var out []string
	for _, c := range r.Changes {
		if c.Kind == kind {
			out = append(out, c.Path)
		}
	}
	return out
}

// maxErrors bounds the errors one scan returns.
const maxErrors = 20

// details compares two entries of one path on what the mode reports.
func details(old, cur *Entry, cfg *Config, alg string) []string {
	var d []string
	if old.Type != cur.Type {
		return []string{fmt.Sprintf("type %s -> %s", old.Type, cur.Type)}
	}
	if cfg.content() {
		if old.Type == TypeSymlink && old.Target != cur.Target {
			d = append(d, fmt.Sprintf("target %q -> %q", old.Target, cur.Target))
		}
		if old.Type == TypeFile && strings.HasPrefix(old.Hash, alg+":") && strings.HasPrefix(cur.Hash, alg+":") && old.Hash != cur.Hash {
			d = append(d, "content")
		}
	}
	if cfg.stats() {
		if old.Mode != cur.Mode {
			d = append(d, fmt.Sprintf("permissions %04o -> %04o", old.Mode, cur.Mode))
		}
		if old.UID != cur.UID {
			d = append(d, fmt.Sprintf("owner %d -> %d", old.UID, cur.UID))
		}
		if old.GID != cur.GID {
			d = append(d, fmt.Sprintf("group %d -> %d", old.GID, cur.GID))
		}
		if old.Type == TypeFile && old.Size != cur.Size {
			d = append(d, fmt.Sprintf("size %d -> %d", old.Size, cur.Size))
		}
		if old.Type != TypeDir && old.Mtime != cur.Mtime {
			d = append(d, "mtime")
		}
	}
	return d
}
