package follow

import (
	"fmt"
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
	set := rotatedSet(name)
	var (
		best     *openFile
		bestSize int64
	)
	for i, n := len(set)-1, 0; i >= 0 && n < maxCandidates; i-- {
		rf := set[i]
		f, err := os.Open(rf.path)
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
		if head, err := headOf(f, p.HeadLen); err != nil || hash64(head) != p.HeadHash {
			f.Close()
			continue
		}
		o, why := s.openAt(f, id, rf.path, p)
		if why != "" {
			f.Close()
			continue
		}
		if size := contentSize(o); best == nil || size < bestSize {
			if best != nil {
				best.closeFile()
			}
			best, bestSize = o, size
		} else {
			o.closeFile()
		}
	}
	return best
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
