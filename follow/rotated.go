package follow

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/logtally/logtally/lines"
)

// A followed name's rotated set is the files of its directory whose names
// are the name plus a rotation suffix, as logrotate makes them: numbered
// (app.log.1, app.log.2, ...) or dated (dateext: app.log-20261206, also
// with hours or seconds), each possibly compressed (.gz). They are ordered
// oldest first: the highest number first, or the earliest date (dates
// sort as text in logrotate's formats, year first).

// rotatedFile is one file of a rotated set.
type rotatedFile struct {
	path string
	gz   bool   // name ends in .gz
	num  int    // the N of a numbered name; -1 for a dated one
	date string // the suffix of a dated name
}

// maxRotationNumber bounds what counts as a rotation number rather than a
// date written without separators.
const maxRotationNumber = 99999

// parseRotated reports whether name is base plus a rotation suffix.
func parseRotated(base, name string) (rotatedFile, bool) {
	suf, ok := strings.CutPrefix(name, base)
	if !ok || suf == "" {
		return rotatedFile{}, false
	}
	rf := rotatedFile{num: -1}
	if s, ok := strings.CutSuffix(suf, ".gz"); ok {
		suf, rf.gz = s, true
	}
	if len(suf) < 2 || !strings.ContainsRune(".-_", rune(suf[0])) || suf[1] < '0' || suf[1] > '9' {
		return rotatedFile{}, false
	}
	for _, c := range suf[1:] {
		if (c < '0' || c > '9') && !strings.ContainsRune(".-_", c) {
			return rotatedFile{}, false
		}
	}
	if n, err := strconv.Atoi(suf[1:]); err == nil && suf[0] == '.' && n <= maxRotationNumber {
		rf.num = n
	} else {
		rf.date = suf
	}
	return rf, true
}

// olderThan reports whether a comes before b in rotation order.
func (a rotatedFile) olderThan(b rotatedFile) bool {
	switch {
	case a.num >= 0 && b.num >= 0:
		return a.num > b.num
	case a.num < 0 && b.num < 0:
		return a.date < b.date
	}
	return a.num >= 0 // a set that mixes both: numbered first
}

// sameKind reports whether a and b are both numbered or both dated, so
// that their order means something.
func (a rotatedFile) sameKind(b rotatedFile) bool { return (a.num >= 0) == (b.num >= 0) }

// rotatedSet returns the rotated set of name, oldest first. A compressed
// file whose uncompressed twin is still there (gzip is still at work) is
// left out: the twin is complete.
func rotatedSet(name string) []rotatedFile {
	dir, base := filepath.Split(name)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	var out []rotatedFile
	plain := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		rf, ok := parseRotated(base, e.Name())
		if !ok {
			continue
		}
		rf.path = filepath.Join(dir, e.Name())
		out = append(out, rf)
		if !rf.gz {
			plain[rf.path] = true
		}
	}
	out = slices.DeleteFunc(out, func(rf rotatedFile) bool { return rf.gz && plain[strings.TrimSuffix(rf.path, ".gz")] })
	slices.SortFunc(out, func(a, b rotatedFile) int {
		switch {
		case a.olderThan(b):
			return -1
		case b.olderThan(a):
			return 1
		}
		return strings.Compare(a.path, b.path)
	})
	return out
}

// maxCandidates bounds how many files of a rotated set are examined when
// looking for a content by its fingerprints: the newest ones, where a
// copy or a compressed file is.
const maxCandidates = 8

// findContent looks in name's rotated set, newest first, for the file that
// holds the content p describes — a copy made by copytruncate, or the file
// itself compressed — skipping the identities in skip. It returns it
// opened, verified and ready to be read from p.Offset (path set to its
// name), or nil. When several verify (content that starts with the same
// bytes everywhere p looked, such as the hole a writer without O_APPEND
// leaves), the shortest is the first copy made after the content was
// read: every later one holds more.
func (s *scanner) findContent(name string, p Position, skip map[fileID]bool) *openFile {
	var (
		best     *openFile
		bestSize int64
	)
	eachCandidate(name, skip, func(f *os.File, _ os.FileInfo, id fileID, path string) bool {
		if head, err := headOf(f, p.HeadLen); err != nil || hash64(head) != p.HeadHash {
			return false
		}
		o, why := s.openAt(f, id, path, p)
		if why != "" {
			return false
		}
		if size := contentSize(o); best == nil || size < bestSize {
			if best != nil {
				best.closeFile()
			}
			best, bestSize = o, size
		} else {
			o.closeFile()
		}
		return true
	})
	return best
}

// eachCandidate opens the files of name's rotated set, newest first, the
// regular ones not in skip, up to maxCandidates, and calls visit with
// each; the file is closed after, unless visit returns true (it keeps or
// closed it).
func eachCandidate(name string, skip map[fileID]bool, visit func(f *os.File, fi os.FileInfo, id fileID, path string) bool) {
	eachCandidateIn(rotatedSet(name), skip, visit)
}

// eachCandidateIn is eachCandidate over set, a listing of a rotated set
// that may be stale by the time each file is opened: a plain file gone
// since (gzip finished with it and unlinked it) is looked for as its .gz
// twin, which the listing left out while the plain file was there and
// which is complete now.
func eachCandidateIn(set []rotatedFile, skip map[fileID]bool, visit func(f *os.File, fi os.FileInfo, id fileID, path string) bool) {
	for i, n := len(set)-1, 0; i >= 0 && n < maxCandidates; i-- {
		path := set[i].path
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) && !set[i].gz {
			path += ".gz"
			f, err = os.Open(path)
		}
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		id, _ := idOf(fi)
		if err != nil || !fi.Mode().IsRegular() || skip[id] {
			f.Close()
			continue
		}
		n++
		if !visit(f, fi, id, path) {
			f.Close()
		}
	}
}

// findRead looks in name's rotated set, newest first, for a copy of o's
// content that is shorter than off, the offset read to, and holds nothing
// unread: logrotate's copytruncate copied the file, and the writer's
// lines between the copy and the truncation were read from the file
// before it was truncated. A candidate (plain or gzip) must agree with
// what is known of the content read (prefixAt). Of those that do, the
// longest is the copy: an older one (logrotate's copy directive) holds
// less. It returns the copy, or ok false.
func (s *scanner) findRead(name string, o *openFile, off int64, skip map[fileID]bool) (found unseenFile, ok bool) {
	head := o.fp.head
	return findPrefix(name, off, skip, func(f *os.File) bool {
		// Not worth a look further when the first byte differs.
		b, err := headOf(f, 1)
		return len(head) == 0 || err == nil && len(b) == 1 && b[0] == head[0]
	}, func(n int64) (Position, bool) { return o.prefixAt(n, off), true })
}

// findSavedCopy is findRead for a saved position p, at startup: the
// followed file was truncated while logtally was stopped, and a copy
// shorter than p.Offset that agrees with what p keeps of its first bytes
// (Position.prefix) holds nothing unread.
func findSavedCopy(name string, p Position, skip map[fileID]bool) (found unseenFile, ok bool) {
	return findPrefix(name, p.Offset, skip, func(*os.File) bool { return true }, p.prefix)
}

// findPrefix returns the longest file of name's rotated set (its newest
// maxCandidates, not in skip) whose content, decompressed when gzip, is
// not empty, shorter than off, passes quick and verifies against the
// position at(n) gives for its size n.
func findPrefix(name string, off int64, skip map[fileID]bool, quick func(*os.File) bool,
	at func(n int64) (Position, bool)) (found unseenFile, ok bool) {
	var best int64
	eachCandidate(name, skip, func(f *os.File, fi os.FileInfo, id fileID, path string) bool {
		if !quick(f) {
			return false
		}
		if size := readPrefix(f, fi.Size(), off, at); size > best {
			found, best = unseenFile{path: path, id: id}, size
		}
		return false
	})
	return found, best > 0
}

// readPrefix returns the size of f's content (decompressed when gzip),
// whose file is size bytes, when it is not empty, shorter than off, and
// verifies against the position at gives for its size; else 0.
func readPrefix(f *os.File, size, off int64, at func(n int64) (Position, bool)) int64 {
	if !isGzip(f) {
		if size == 0 || size >= off {
			return 0
		}
		if p, ok := at(size); !ok || verify(f, size, p) != "" {
			return 0
		}
		return size
	}
	n, ok := gzipSize(f, 0)
	if !ok || n == 0 || n >= off {
		return 0 // (modulo 2^32: a longer content fails below)
	}
	p, ok := at(n)
	if !ok {
		return 0
	}
	zr, err := gunzip(f)
	if err != nil {
		return 0
	}
	defer zr.Close()
	if why, _, _ := verifyStream(zr, p); why != "" {
		return 0
	}
	if m, _ := io.Copy(io.Discard, zr); m != 0 {
		return 0 // longer than its trailer says
	}
	return n
}

// contentSize returns the size of o's content: its size, or for a gzip
// file what its trailer says (or the offset reached, if that is more).
func contentSize(o *openFile) int64 {
	if o.gz {
		n, _ := gzipSize(o.f, o.src.pos)
		return n
	}
	if fi, err := o.f.Stat(); err == nil {
		return fi.Size()
	}
	return o.src.pos
}

// chainHoles prepares the files read one after the other after a
// truncation (copytruncate) — the later copies, read whole and complete —
// and then the truncated file itself (its watch is returned) to skip the
// hole each may start with, and to report the bytes it proves lost beyond
// what logtally has of the content before it: have for the first copy,
// then each copy's size for the next.
func chainHoles(have int64, copies []*openFile) *holeWatch {
	for _, o := range copies {
		o.hole, o.complete = &holeWatch{have: have}, true
		have = contentSize(o)
	}
	return &holeWatch{have: have}
}

// openAt makes f, a regular file (plain or gzip) with identity id found
// under path, ready to be read from p.Offset, after checking that p
// describes its content. It returns why not otherwise; the caller then
// closes f.
func (s *scanner) openAt(f *os.File, id fileID, path string, p Position) (*openFile, string) {
	o := &openFile{id: id, f: f, path: path, fp: newPrints(), gz: isGzip(f)}
	o.src = contentReader{f: f, fp: o.fp}
	if !o.gz {
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Sprintf("cannot stat it: %v", err)
		}
		if why := verify(f, fi.Size(), p); why != "" {
			return nil, why
		}
		o.startPlain(p.Offset, s.cfg.MaxLine)
		return o, ""
	}
	zr, err := gunzip(f)
	if err != nil {
		return nil, err.Error()
	}
	o.src.zr = zr
	why, tail, extra := verifyStream(&o.src, p)
	if why != "" {
		zr.Close()
		return nil, why
	}
	o.src.unread(extra)
	o.tail.b, o.tail.known = tail, true
	o.r = lines.NewReader(&o.src, p.Offset, s.cfg.MaxLine)
	return o, ""
}

// siblings is what a followed name's rotated set held at one moment: for
// each file, its identity, size and modification time (a file with all
// three unchanged is the same file: an inode freed by a deletion and
// reused by a new copy has a new modification time), and the head of the
// plain ones, so that a file compressed from one of them since is known
// for what it is.
type siblings map[fileID]sibling

// sibling is one file of a rotated set, as siblings describes it.
type sibling struct {
	size    int64
	mtime   int64 // nanoseconds
	plain   bool
	headLen int    // when plain: its first headLen bytes (≤ MaxHeadLen) ...
	head    uint64 //   ... hash to head
}

// sameFile reports whether a and b describe one file, unchanged.
func (a sibling) sameFile(b sibling) bool { return a.size == b.size && a.mtime == b.mtime }

// rotatedNow is one file of a rotated set as it is now.
type rotatedNow struct {
	rotatedFile
	id fileID
	sibling
}

// statSet returns the files of name's rotated set, oldest first, with
// their identities, sizes and modification times.
func statSet(name string) []rotatedNow {
	set := rotatedSet(name)
	out := make([]rotatedNow, 0, len(set))
	for _, rf := range set {
		fi, err := os.Stat(rf.path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id, _ := idOf(fi)
		out = append(out, rotatedNow{rotatedFile: rf, id: id,
			sibling: sibling{size: fi.Size(), mtime: fi.ModTime().UnixNano()}})
	}
	return out
}

// maxSiblings bounds how many files of a rotated set, the newest, a
// description holds (and newCopies looks at): copies are the newest.
const maxSiblings = 64

// newest returns the newest maxSiblings files of set.
func newest(set []rotatedNow) []rotatedNow { return set[max(0, len(set)-maxSiblings):] }

// siblingsOf describes set, reading the heads of the plain files that
// known (nil, or the description of an earlier look) does not have. The
// files known and not in set are kept (up to maxSiblings of them): a
// listing taken while logrotate renames the set (app.log.3.gz to
// app.log.4.gz, ...) can miss a file, which would otherwise look new, and
// be taken for a copy, at the next look. A file kept that is gone leaves
// an entry that matches nothing: an inode reused by a new file has another
// modification time.
func siblingsOf(set []rotatedNow, known siblings) siblings {
	set = newest(set)
	sb := make(siblings, len(set))
	defer func() {
		kept := 0
		for id, k := range known {
			if _, ok := sb[id]; !ok && kept < maxSiblings {
				sb[id] = k
				kept++
			}
		}
	}()
	for _, rf := range set {
		if k, ok := known[rf.id]; ok && k.sameFile(rf.sibling) {
			sb[rf.id] = k
			continue
		}
		d := rf.sibling
		if f, err := os.Open(rf.path); err == nil {
			if !isGzip(f) {
				if head, err := headOf(f, MaxHeadLen); err == nil {
					d.plain, d.headLen, d.head = true, len(head), hash64(head)
				}
			}
			f.Close()
		}
		sb[rf.id] = d
	}
	return sb
}

// String encodes sb for a saved position (Position.Rotated): a version,
// so that an empty set is told from none, then one entry per file.
func (sb siblings) String() string {
	ids := make([]fileID, 0, len(sb))
	for id := range sb {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b fileID) int {
		if a.dev != b.dev {
			return cmpU64(a.dev, b.dev)
		}
		return cmpU64(a.ino, b.ino)
	})
	var b strings.Builder
	b.WriteString("1;")
	for _, id := range ids {
		d := sb[id]
		plain := 0
		if d.plain {
			plain = 1
		}
		fmt.Fprintf(&b, "%d:%d:%d:%d:%d:%d:%x;", id.dev, id.ino, d.size, d.mtime, plain, d.headLen, d.head)
	}
	return b.String()
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseSiblings decodes Position.Rotated; what it cannot read is left out.
func parseSiblings(s string) siblings {
	sb := make(siblings)
	for _, e := range strings.Split(strings.TrimPrefix(s, "1;"), ";") {
		var (
			id    fileID
			d     sibling
			plain int
		)
		if n, err := fmt.Sscanf(e, "%d:%d:%d:%d:%d:%d:%x", &id.dev, &id.ino, &d.size, &d.mtime, &plain, &d.headLen, &d.head); err != nil || n != 7 {
			continue
		}
		d.plain = plain == 1
		sb[id] = d
	}
	return sb
}

// unseenFile is a file of a rotated set that was not in it before.
type unseenFile struct {
	path string
	id   fileID
}

// newCopies returns, oldest first, the files of set (name's rotated set
// now; its newest maxSiblings) that were not in it as before describes
// it, are not in taken, and start with the headLen bytes whose hash is
// head: the copies copytruncate made of content of which no
// complete line was read (the followed file was empty, or held a partial
// line or a hole, at the last look). That content was written, copied
// and truncated away between two looks; the followed file itself keeps
// no trace of it. A gzip file whose content is that of a plain file that
// was there and is gone (the same size and head) is that file
// compressed, not a copy.
func newCopies(set []rotatedNow, before siblings, taken map[fileID]bool, headLen int, head uint64) []unseenFile {
	set = newest(set)
	now := make(map[fileID]sibling, len(set))
	for _, rf := range set {
		now[rf.id] = rf.sibling
	}
	var out []unseenFile
	for _, rf := range set {
		if b, ok := before[rf.id]; (ok && (b.sameFile(rf.sibling) || grown(rf, b))) || taken[rf.id] {
			continue
		}
		if isCopy(rf, before, now, headLen, head) {
			out = append(out, unseenFile{path: rf.path, id: rf.id})
		}
	}
	return out
}

// grown reports whether rf is the plain file b describes, appended to
// since (a writer that never reopened its rotated log): not a copy.
func grown(rf rotatedNow, b sibling) bool {
	if !b.plain || rf.size < b.size {
		return false
	}
	f, err := os.Open(rf.path)
	if err != nil {
		return false
	}
	defer f.Close()
	head, err := headOf(f, b.headLen)
	return err == nil && len(head) == b.headLen && hash64(head) == b.head
}

// isCopy reports whether rf, new in a rotated set, starts with the
// headLen bytes whose hash is head, is not empty (an empty head proves
// nothing, and an empty file holds no line: logrotate compressing the
// empty file it rotated is no copytruncate) and is not a compressed twin
// of a plain file that was in the set before and is not now.
func isCopy(rf rotatedNow, before siblings, now map[fileID]sibling, headLen int, head uint64) bool {
	f, err := os.Open(rf.path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return false
	} else if id, _ := idOf(fi); id != rf.id {
		return false // renamed again since: looked at under its new name, if any
	}
	if b, err := headOf(f, max(headLen, 1)); err != nil || len(b) < max(headLen, 1) || hash64(b[:headLen]) != head {
		return false // (an empty file is a copy of nothing: no line to read)
	}
	if !isGzip(f) {
		return true
	}
	h, err := headOf(f, MaxHeadLen)
	if err != nil {
		return true
	}
	for id, p := range before {
		if n, still := now[id]; p.plain && (!still || !n.sameFile(p)) && p.head == hash64(h) {
			if size, ok := gzipSize(f, p.size); ok && size == p.size {
				return false
			}
		}
	}
	return true
}
