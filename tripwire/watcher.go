package tripwire

import (
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// Watcher is one watch's state. Its methods must not be called
// concurrently.
type Watcher struct {
	cfg  Config
	alg  string
	meta Meta
	base map[string]*Entry // the accepted baseline
	// seen is the last listing, with the hashes known; persisted holds
	// the paths whose seen entry is kept in the state (those that differ
	// from the baseline).
	seen      map[string]*Entry
	persisted map[string]Entry
	partial   map[string]*partial // files hashed in pieces
	cursor    string              // where re-verification resumes
	progress  Progress
}

// partial is a file being hashed over several scans.
type partial struct {
	sig   Sig
	off   int64
	state []byte
}

// New returns a Watcher with an empty state.
func New(cfg Config) (*Watcher, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("new watch: no path")
	}
	for _, p := range cfg.Paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("new watch: %s is not an absolute path", p)
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("new watch: %s: %w", p, err)
		}
	}
	switch cfg.Hash {
	case "", HashSHA256, HashSHA512, HashBest:
	default:
		return nil, fmt.Errorf("new watch: unknown hash %q", cfg.Hash)
	}
	switch cfg.Report {
	case "":
		cfg.Report = ReportAll
	case ReportAll, ReportContent, ReportStats, ReportNone:
	default:
		return nil, fmt.Errorf("new watch: unknown report_changes %q", cfg.Report)
	}
	for i, p := range cfg.Paths {
		cfg.Paths[i] = filepath.Clean(p)
	}
	w := &Watcher{cfg: cfg, alg: cfg.algorithm(), base: map[string]*Entry{}, seen: map[string]*Entry{},
		persisted: map[string]Entry{}, partial: map[string]*partial{}}
	return w, nil
}

// Restore installs a saved state: the meta, the baseline and the seen
// entries that differed from it.
func (w *Watcher) Restore(meta Meta, base, seen map[string]*Entry) {
	w.meta = meta
	w.base = map[string]*Entry{}
	w.seen = map[string]*Entry{}
	w.persisted = map[string]Entry{}
	for p, e := range base {
		c := *e
		w.base[p] = &c
		s := *e
		w.seen[p] = &s
	}
	for p, e := range seen {
		w.persisted[p] = *e
		if e.Gone {
			delete(w.seen, p)
			continue
		}
		c := *e
		w.seen[p] = &c
	}
}

// Progress returns the progress of the last scan.
func (w *Watcher) Progress() Progress { return w.progress }

// Outstanding returns the differences between what was last seen and the
// baseline, as Scan would report them with update_hashes: no.
func (w *Watcher) Outstanding() []Change {
	var out []Change
	for _, p := range union(w.base, w.seen) {
		if c, ok := w.diff(p); ok {
			out = append(out, c)
		}
	}
	return out
}

func union(a, b map[string]*Entry) []string {
	m := make(map[string]*Entry, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return slices.Sorted(maps.Keys(m))
}

// diff compares the baseline and the seen entry of one path.
func (w *Watcher) diff(p string) (Change, bool) {
	b, s := w.base[p], w.seen[p]
	switch {
	case b == nil && s == nil:
		return Change{}, false
	case b == nil:
		return Change{Path: p, Kind: Added, New: s}, true
	case s == nil:
		return Change{Path: p, Kind: Removed, Old: b}, true
	}
	if d := details(b, s, &w.cfg, w.alg); len(d) > 0 {
		return Change{Path: p, Kind: Changed, Details: d, Old: b, New: s}, true
	}
	return Change{}, false
}

// Scan lists the watched trees, hashes what it may, and returns the
// differences from the baseline and the state to commit.
func (w *Watcher) Scan() Result {
	l := w.list()
	res := Result{Errors: l.errs, Delta: Delta{Base: map[string]*Entry{}, Seen: map[string]*Entry{}}}
	// What cannot be listed now keeps what was known of it.
	keep := func(p string) bool {
		if l.truncated {
			return true
		}
		for _, u := range l.unreadable {
			if under(p, u) {
				return true
			}
		}
		return false
	}
	seen := make(map[string]*Entry, len(l.entries))
	for p, cur := range l.entries {
		w.carryHash(p, cur)
		seen[p] = cur
	}
	for p, e := range w.seen {
		if _, listed := seen[p]; !listed && keep(p) {
			seen[p] = e
		}
	}
	for p := range w.partial {
		if e := seen[p]; e == nil || e.Sig != w.partial[p].sig {
			delete(w.partial, p)
		}
	}
	w.seen = seen
	res.Progress.HashedBytes = w.hash()

	// The baseline: new roots and formerly excluded files are taken in
	// silently; entries the rules no longer cover are dropped silently.
	newRoots := map[string]bool{}
	for _, pat := range w.cfg.Paths {
		if !slices.Contains(w.meta.Roots, pat) {
			newRoots[pat] = true
		}
	}
	setBase := func(p string, e *Entry) {
		if e == nil {
			if _, ok := w.base[p]; ok {
				delete(w.base, p)
				res.Delta.Base[p] = nil
			}
			return
		}
		if old, ok := w.base[p]; ok && *old == *e {
			return
		}
		c := *e
		w.base[p] = &c
		res.Delta.Base[p] = &c
	}
	for _, p := range slices.Sorted(maps.Keys(w.base)) {
		if !w.covered(p) {
			setBase(p, nil)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(w.seen)) {
		s := w.seen[p]
		b := w.base[p]
		switch {
		case b == nil && (newRoots[l.root[p]] || excludedWithin(p, w.meta.Exclude)):
			setBase(p, s)
		case b != nil && s.Type == TypeFile && !b.hashCurrent(w.alg) && s.hashCurrent(w.alg) && (b.HashSig == s.HashSig || b.Hash == "" && b.Sig == s.Sig):
			// The baseline's first hash (or its hash in a new
			// algorithm) for content that has not moved.
			nb := *b
			nb.Hash, nb.HashSig = s.Hash, s.HashSig
			setBase(p, &nb)
		}
	}
	if !slices.Equal(w.meta.Roots, w.cfg.Paths) || !slices.Equal(w.meta.Exclude, w.cfg.Exclude) {
		w.meta = Meta{Roots: slices.Clone(w.cfg.Paths), Exclude: slices.Clone(w.cfg.Exclude)}
		m := w.meta
		res.Delta.Meta = &m
	}

	// The differences.
	for _, p := range union(w.base, w.seen) {
		c, ok := w.diff(p)
		if !ok {
			// What moved without a difference the rules report (a
			// new inode or ctime, an attribute not watched) is taken
			// into the baseline.
			if b, s := w.base[p], w.seen[p]; b != nil && s != nil && *b != *s {
				setBase(p, w.accepted(p))
			}
			continue
		}
		res.Changes = append(res.Changes, c)
		if w.cfg.Update {
			setBase(p, w.accepted(p))
		}
	}
	w.persistSeen(&res.Delta)
	for i := range res.Changes {
		c := &res.Changes[i]
		c.Fresh = w.cfg.Update || res.Delta.Seen[c.Path] != nil
	}
	w.progress = w.measure(l, res.Progress.HashedBytes)
	res.Progress = w.progress
	return res
}

// accepted is the baseline entry that accepts what was seen of p: nil for
// a removal; the seen entry, with the baseline's old hash when the new
// content is not hashed yet (so that its change is reported when it is).
func (w *Watcher) accepted(p string) *Entry {
	s := w.seen[p]
	if s == nil {
		return nil
	}
	n := *s
	if b := w.base[p]; b != nil && n.Hash == "" && n.Type == TypeFile && b.Type == TypeFile {
		n.Hash, n.HashSig = b.Hash, b.HashSig
	}
	return &n
}

// persistSeen records, in the delta, the seen entries that differ from the
// baseline (and the removal of those that no longer do).
func (w *Watcher) persistSeen(d *Delta) {
	want := map[string]*Entry{}
	for _, p := range union(w.base, w.seen) {
		b, s := w.base[p], w.seen[p]
		switch {
		case s == nil && b != nil:
			want[p] = &Entry{Gone: true}
		case s != nil && (b == nil || *b != *s):
			want[p] = s
		}
	}
	for p := range w.persisted {
		if _, ok := want[p]; !ok {
			d.Seen[p] = nil
			delete(w.persisted, p)
		}
	}
	for p, e := range want {
		if old, ok := w.persisted[p]; ok && old == *e {
			continue
		}
		c := *e
		d.Seen[p] = &c
		w.persisted[p] = c
	}
}

// covered reports whether the rules still watch p.
func (w *Watcher) covered(p string) bool {
	if excludedWithin(p, w.cfg.Exclude) {
		return false
	}
	for _, pat := range w.cfg.Paths {
		if covers(pat, p) {
			return true
		}
	}
	return false
}

// carryHash gives a listed file the hash known for the same state.
func (w *Watcher) carryHash(p string, cur *Entry) {
	if cur.Type != TypeFile {
		return
	}
	for _, prev := range []*Entry{w.seen[p], w.base[p]} {
		if prev != nil && prev.Type == TypeFile && prev.Hash != "" && prev.HashSig == cur.Sig {
			cur.Hash, cur.HashSig = prev.Hash, prev.HashSig
			return
		}
	}
}

// hash hashes, within the budget, the files whose hash is not known, then
// re-verifies known ones in turn; it returns the bytes read.
func (w *Watcher) hash() int64 {
	if !w.cfg.content() {
		return 0
	}
	budget := w.cfg.MaxBytes
	if budget <= 0 {
		budget = DefaultMaxBytes
	}
	start := budget
	paths := slices.Sorted(maps.Keys(w.seen))
	fresh := map[string]bool{}
	for _, p := range paths {
		if budget <= 0 {
			break
		}
		e := w.seen[p]
		if e.Type != TypeFile || e.hashCurrent(w.alg) {
			continue
		}
		fresh[p] = w.hashFile(p, e, &budget, true)
	}
	// Re-verify files whose attributes did not move, from where the
	// last scan stopped, while the budget lasts.
	i, _ := slices.BinarySearch(paths, w.cursor)
	for n := 0; n < len(paths) && budget > 0; n++ {
		p := paths[(i+n)%len(paths)]
		e := w.seen[p]
		w.cursor = p + "\x00"
		if e.Type != TypeFile || !e.hashCurrent(w.alg) || e.Size > budget || fresh[p] {
			continue
		}
		v := *e
		v.Hash = ""
		if w.hashFile(p, &v, &budget, false) && v.Hash != e.Hash && v.HashSig == e.Sig {
			e.Hash = v.Hash // changed behind unchanged attributes
		}
	}
	return start - budget
}

// hashFile hashes up to *budget bytes of p, resuming a partial hash when
// resumable; it reports whether e's hash is complete.
func (w *Watcher) hashFile(p string, e *Entry, budget *int64, resumable bool) bool {
	// O_NOFOLLOW: a file replaced by a link since it was listed is not
	// followed; O_NONBLOCK: nor is one replaced by a FIFO waited on.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || entryOf(p, fi).Sig != e.Sig {
		return false // it changed since it was listed: next scan
	}
	h := newHash(w.alg)
	var off int64
	if pt := w.partial[p]; resumable && pt != nil && pt.sig == e.Sig {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(pt.state); err == nil {
			if _, err := f.Seek(pt.off, io.SeekStart); err == nil {
				off = pt.off
			} else {
				h.Reset()
			}
		}
	}
	n := e.Size - off
	if n > *budget && resumable {
		n = *budget
	}
	got, err := io.CopyN(h, f, n)
	*budget -= got
	off += got
	if err != nil && !errors.Is(err, io.EOF) {
		delete(w.partial, p)
		return false
	}
	if off < e.Size {
		if resumable && got == n {
			state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
			if err == nil {
				w.partial[p] = &partial{sig: e.Sig, off: off, state: state}
			}
		}
		return false
	}
	delete(w.partial, p)
	fi, err = f.Stat()
	if err != nil || entryOf(p, fi).Sig != e.Sig {
		return false // written while hashed
	}
	e.Hash = w.alg + ":" + hex.EncodeToString(h.Sum(nil))
	e.HashSig = e.Sig
	return true
}

// measure computes the progress after a scan.
func (w *Watcher) measure(l *listing, hashed int64) Progress {
	pr := Progress{Files: len(l.entries), HashedBytes: hashed, Unreadable: len(l.unreadable), Truncated: l.truncated}
	for p, e := range w.seen {
		if e.Type != TypeFile {
			continue
		}
		pr.Bytes += e.Size
		if w.cfg.content() && !e.hashCurrent(w.alg) {
			pr.PendingFiles++
			pr.PendingBytes += e.Size
			if pt := w.partial[p]; pt != nil {
				pr.PendingBytes -= pt.off
			}
		}
	}
	pr.Complete = pr.PendingFiles == 0 && !l.truncated
	return pr
}

// Accept makes what was last seen of paths (every outstanding path when
// none is given) the baseline, and returns the state to commit. A file
// whose new content is not hashed yet is accepted with its hash unknown,
// to be taken in silently when it is.
func (w *Watcher) Accept(paths ...string) Delta {
	d := Delta{Base: map[string]*Entry{}, Seen: map[string]*Entry{}}
	for _, c := range w.Outstanding() {
		if len(paths) > 0 && !slices.ContainsFunc(paths, func(q string) bool { return under(c.Path, q) }) {
			continue
		}
		s := w.seen[c.Path]
		if s == nil {
			delete(w.base, c.Path)
			d.Base[c.Path] = nil
			continue
		}
		n := *s
		if !n.hashCurrent(w.alg) {
			n.Hash, n.HashSig = "", Sig{}
		}
		w.base[c.Path] = &n
		cp := n
		d.Base[c.Path] = &cp
	}
	w.persistSeen(&d)
	return d
}
