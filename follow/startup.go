package follow

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// startup runs once, at the first check, before the followed names are
// opened. It finds where the content each saved position describes is
// now — see "Startup and saved positions" in the package documentation —
// and queues, oldest first, what is to be read before the current files:
// the saved files that were rotated away (renamed, compressed, or copied
// away by copytruncate) from their saved offsets, and the files of their
// rotated sets that were created and rotated while logtally was stopped,
// whole. The followed names themselves are opened by open, which resumes
// them with s.resume.
func (s *scanner) startup(paths []string, st map[string]statResult) {
	s.resume = make(map[fileID]Position)
	s.resetWhy = make(map[fileID]string)
	s.holes = make(map[fileID]*holeWatch)
	var stale []Position // other names saved for one file
	for _, k := range sortedKeys(s.cfg.Saved) {
		pos := s.cfg.Saved[k]
		pos.Path = k
		id := fileID{pos.Dev, pos.Ino}
		old, ok := s.resume[id]
		switch {
		case !ok:
			s.resume[id] = pos
		case pos.Offset > old.Offset:
			s.resume[id] = pos
			stale = append(stale, old)
		default:
			stale = append(stale, pos)
		}
	}
	for _, p := range stale {
		if _, followed := s.tracked[p.Path]; !followed {
			// The name a followed file takes is saved again when it is
			// opened; any other would stay forever.
			s.event(Event{Kind: EventClose, Source: p.Path, Path: p.Path, Pos: Position{Path: p.Path, Dev: p.Dev, Ino: p.Ino},
				Detail: "another name's saved position of the same file is further on; dropped"})
		}
	}
	current := make(map[fileID]string) // identity -> followed name
	for _, p := range paths {
		t, r := s.tracked[p], st[p]
		switch {
		case r.err == nil:
			current[r.id] = p
			t.startID, t.startSize, t.haveStart = r.id, r.fi.Size(), true
		case errors.Is(r.err, fs.ErrNotExist):
			t.startup = false // it will appear later, and be read from its start
		}
	}

	// For each base name, the newest file found holding saved content
	// under another name than it was saved under; inPlace: the followed
	// file itself still holds it (nothing was rotated while stopped).
	newest := make(map[string]*openFile)
	newestAt := make(map[string]rotatedFile)
	inPlace := make(map[string]bool)
	copied := make(map[string]fileID) // base -> its file, truncated while stopped
	taken := make(map[fileID]bool)    // identities read from now on
	for id := range current {
		taken[id] = true
	}
	// The saved files are placed in three rounds: those no followed name
	// holds, then the followed files, each drained from its saved offset
	// (and so taken), and last the followed names' positions at offset 0,
	// whose walks read whole the files new to their rotated sets since
	// — which would otherwise take a saved file and read it whole too,
	// counting twice its lines before its saved offset, or all of them.
	ids := sortedIDs(s.resume)
	round := make(map[fileID]int, len(ids))
	for _, id := range ids {
		pos := s.resume[id]
		if _, cur := current[id]; cur {
			round[id] = 1
		}
		if walks(pos, s.baseOf(pos.Path)) {
			round[id] = 2
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return round[ids[i]] < round[ids[j]] })
	var unknown []Position          // saved at offset 0, not found by identity
	walked := make(map[string]bool) // bases whose files new since a position at 0 are read
	for _, id := range ids {
		pos := s.resume[id]
		base := s.baseOf(pos.Path)
		if round[id] == 2 {
			walked[base] = true
		}
		var o *openFile
		if name, ok := current[id]; ok {
			// Opened (and verified again) under its name by open.
			o = s.checkCurrent(name, base, id, pos, taken)
			switch {
			case o != nil:
				copied[base] = id
			case name == base:
				inPlace[base] = true
			}
		} else {
			delete(s.resume, id)
			o = s.locate(id, pos, base, taken, &unknown)
			if o != nil {
				// Drained from its saved position: never read whole too
				// by the walk of the files rotated in after another.
				taken[o.id] = true
			}
		}
		if o == nil || base == "" || o.path == pos.Path {
			continue
		}
		if rf, ok := parseRotated(filepath.Base(base), filepath.Base(o.path)); ok && filepath.Dir(o.path) == filepath.Dir(base) {
			if n, ok := newestAt[base]; !ok || n.olderThan(rf) {
				newest[base], newestAt[base] = o, rf
			}
		}
	}

	for _, pos := range unknown {
		s.settleUnknown(pos, walked)
	}

	// The files rotated in after the newest of them were created and
	// rotated away while logtally was stopped: read them whole, in order.
	for _, base := range sortedKeys(newest) {
		if inPlace[base] {
			continue
		}
		later := s.readNewer(base, newest[base], taken)
		if id, ok := copied[base]; ok && len(later) > 0 {
			// Copied and truncated more than once: each later copy, then
			// the file itself, may start with the hole of the one before.
			s.holes[id] = chainHoles(s.holes[id].have, later)
		}
	}
}

// readNewer queues the files of base's rotated set that are newer than
// the file from, and not in taken, to be read whole, oldest first: from
// holds content logtally has, so those came after it, and logtally never
// saw them (created and rotated away while it was stopped, or between two
// checks). from is placed in the set by its identity, as it may have been
// rotated again since it was found, else by its name. A file whose content
// is what base's current file starts with (ofCurrent) is left out: its
// lines are read there. A file that is gone by the time it is opened
// (gzip finished compressing it and it was unlinked: its .gz twin, left
// out of the listing while the plain file was there, is complete now)
// makes the set be listed again, a few times at most. It returns the
// files it queued.
func (s *scanner) readNewer(base string, from *openFile, taken map[fileID]bool) []*openFile {
	var out []*openFile
	for attempt := 0; ; attempt++ {
		last := attempt == maxRelist
		set := rotatedSet(base)
		ids := make([]fileID, len(set))
		for i, rf := range set {
			if fi, err := os.Stat(rf.path); err == nil {
				ids[i], _ = idOf(fi)
			}
		}
		at := slices.Index(ids, from.id)
		if at < 0 {
			at = slices.IndexFunc(set, func(rf rotatedFile) bool { return rf.path == from.path })
		}
		if at < 0 {
			return out
		}
		gone := false
		for i := at + 1; i < len(set) && !gone; i++ {
			switch {
			case !set[at].sameKind(set[i]) || taken[ids[i]]:
			case ids[i] == fileID{}:
				gone = !last // renamed or unlinked since the listing
			case s.ofCurrent(base, set[i].path):
			default:
				o, vanished := s.openWhole(base, set[i].path, ids[i], taken, "rotated in and away")
				switch {
				case vanished && !last:
					gone = true
				case vanished:
					s.lostWhole(base, set[i].path)
				case o != nil:
					out = append(out, o)
				}
			}
		}
		if !gone {
			return out
		}
	}
}

// maxRelist bounds how many times readNewer lists a rotated set again
// because a file of it went away meanwhile.
const maxRelist = 3

// takenIDs returns the identities of every file being read.
func (s *scanner) takenIDs() map[fileID]bool {
	taken := make(map[fileID]bool)
	for _, t := range s.tracked {
		if t.cur != nil {
			taken[t.cur.id] = true
		}
	}
	for _, o := range s.draining {
		taken[o.id] = true
	}
	return taken
}

// baseOf returns the followed name whose rotated set path belongs to (or
// that path is), or "".
func (s *scanner) baseOf(path string) string {
	best := ""
	for p := range s.tracked {
		switch {
		case p == path:
			return p
		case filepath.Dir(p) == filepath.Dir(path) && len(p) > len(best):
			if _, ok := parseRotated(filepath.Base(p), filepath.Base(path)); ok {
				best = p
			}
		}
	}
	return best
}

// checkCurrent looks at a followed file that a saved position is for.
// When the position no longer matches it (truncated or rewritten while
// logtally was stopped: copytruncate), the old content's unread part is
// looked for in its copy among the rotated files, and read from the saved
// offset; open then reads the file itself from its start. A copy shorter
// than the saved offset that agrees with what the position keeps of the
// content's start (findSavedCopy) holds nothing unread: nothing is lost.
// It returns the copy, queued to be drained (or, when it holds nothing
// unread, only placing it in the rotated set), or nil.
func (s *scanner) checkCurrent(name, base string, id fileID, pos Position, taken map[fileID]bool) *openFile {
	f, err := os.Open(name)
	if err != nil {
		return nil // open reports it
	}
	fi, err := f.Stat()
	if got, _ := idOf(fi); err != nil || got != id {
		f.Close()
		return nil
	}
	if verify(f, fi.Size(), pos) == "" {
		f.Close()
		if pos.Offset == 0 && pos.Rotated != "" {
			s.copiedWhileStopped(name, base, id, pos, taken)
		}
		return nil
	}
	f.Close()
	if base == "" {
		base = name
	}
	cp := s.findContent(base, pos, taken)
	if cp == nil {
		s.holes[id] = &holeWatch{have: pos.Offset}
		if c, ok := findSavedCopy(base, pos, taken); ok {
			// Copied before logtally read past the copy's end: the lines
			// after it were read from the file. Later copies, if any,
			// are read whole (startup places them after this one).
			taken[c.id] = true
			s.resetWhy[id] = "its copy " + c.path + " holds nothing unread; "
			return &openFile{id: c.id, path: c.path}
		}
		s.resetWhy[id] = "no copy of its old content found next to it; "
		s.lost(name, name, 0, fmt.Sprintf(
			"%s was truncated or rewritten while logtally was stopped and no copy of its old content is next to it: lines written after offset %d before that, if any, were not read",
			name, pos.Offset))
		return nil
	}
	taken[cp.id] = true
	have := pos.Offset
	if cp.gz {
		if n, ok := gzipSize(cp.f, pos.Offset); ok {
			have = n
		}
	} else if fi, err := cp.f.Stat(); err == nil {
		have = fi.Size()
	}
	s.holes[id] = &holeWatch{have: have}
	s.resetWhy[id] = "its old content is read from its copy " + cp.path + "; "
	cp.source, cp.complete, cp.backlogEnd = name, true, allBacklog
	s.draining = append(s.draining, cp)
	s.event(Event{Kind: EventResume, Source: name, Path: cp.path, Pos: cp.position(pos.Offset, false),
		Detail: fmt.Sprintf("copy of %s's old content made while stopped; reading it from offset %d", name, pos.Offset)})
	return cp
}

// copiedWhileStopped looks, for a followed file whose saved position is at
// its start (no complete line of it was read), for the copies of content
// written, copied and truncated away while logtally was stopped: the files
// of its rotated set that were not in it as the position describes it
// (see newCopies). They are queued to be read whole, oldest first; each,
// and then the file, may start with the hole of the one before. The hole
// the first one may start with is of content read before the position:
// it is skipped, and nothing is reported lost that cannot be told.
func (s *scanner) copiedWhileStopped(name, base string, id fileID, pos Position, taken map[fileID]bool) {
	if base == "" {
		base = name
	}
	got := s.readNewSince(base, pos, taken, pos.HeadLen, pos.HeadHash, "copied away by a copytruncate")
	if len(got) == 0 {
		return
	}
	s.holes[id] = chainHoles(0, got)
	got[0].hole.have = allBacklog
}

// readNewSince queues to be read whole, oldest first, the files of base's
// rotated set that were not in it when pos, at offset 0, was saved (see
// newCopies, with headLen and head), and returns them: what says why.
func (s *scanner) readNewSince(base string, pos Position, taken map[fileID]bool, headLen int, head uint64, what string) []*openFile {
	return s.readAllWhole(base, newCopies(statSet(base), parseSiblings(pos.Rotated), taken, headLen, head), taken, what)
}

// readAllWhole queues files of base's rotated set, in their order, to be
// read whole (readWhole), and returns those queued.
func (s *scanner) readAllWhole(base string, files []unseenFile, taken map[fileID]bool, what string) []*openFile {
	var got []*openFile
	for _, c := range files {
		if o := s.readWhole(base, c.path, c.id, taken, what); o != nil {
			got = append(got, o)
		}
	}
	return got
}

// allBacklog is the backlogEnd of a file that will not grow: every line
// was there at startup.
const allBacklog = 1<<63 - 1

// startupBacklog returns where the lines there at startup end in o.
func startupBacklog(o *openFile) int64 {
	if o.gz {
		return allBacklog
	}
	if fi, err := o.f.Stat(); err == nil {
		return fi.Size()
	}
	return allBacklog
}

// locate finds the file a saved position is for, which no followed name
// holds any more: by identity, under its saved name or in that name's
// directory (rotated by renaming), or else by its fingerprints among the
// rotated files of base (compressed, or copied away). It queues it to be
// drained from the saved offset and returns it, or reports it lost. A
// followed file saved at offset 0 is not looked for (see readNewSince):
// it returns nil.
func (s *scanner) locate(id fileID, pos Position, base string, taken map[fileID]bool, unknown *[]Position) *openFile {
	source := pos.Path
	if base != "" {
		source = base
	}
	dirs := []string{filepath.Dir(pos.Path)}
	if real, err := filepath.EvalSymlinks(pos.Path); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real)) // a symlink's target rotates in its own directory
	}
	if walks(pos, base) {
		// No line of it was read: the position describes no content, so
		// any file verifies it, and its inode, freed when gzip replaced
		// it, may be another's now (logrotate's state file, a newer
		// rotated file). What came into the rotated set since it was
		// saved is what was written to it and after it.
		s.readNewSince(base, pos, taken, 0, hash64(nil), "rotated away")
		return nil
	}
	var (
		o   *openFile
		why string
	)
	blank := pos.Offset == 0 && pos.HeadLen == 0 // any file verifies it
	if name := s.findID(pos.Path, dirs, id); name != "" && (!blank || rotatedName(name, pos.Path, base)) {
		o, why = s.openSaved(name, id, pos)
		if o == nil && !rotatedName(name, pos.Path, base) {
			// Its inode was freed and taken by an unrelated file
			// (logrotate's own state file): not the saved file.
			why = ""
		}
	}
	if o == nil && blank {
		// Nothing of its content is known, so nothing can find it: a walk
		// of the files new to base's rotated set may read it (startup
		// settles that).
		*unknown = append(*unknown, pos)
		return nil
	}
	if o == nil && !pos.Gzip {
		// Compressed since (gzip makes a new file), or copied away.
		where := pos.Path + ".gz"
		if base != "" {
			where = base
		}
		o = s.findContent(where, pos, taken)
		if o == nil && base != "" {
			o = s.findContent(pos.Path+".gz", pos, taken)
		}
	}
	if o == nil {
		if why == "" {
			why = fmt.Sprintf("rotated file (%v) not found in %s", id, strings.Join(dirs, " or "))
		}
		s.lost(source, pos.Path, 0, fmt.Sprintf("%s; lines written to it after offset %d, if any, were not read", why, pos.Offset))
		if _, followed := s.tracked[pos.Path]; !followed {
			// Nothing will take the saved position's name: drop it.
			s.event(Event{Kind: EventClose, Source: source, Path: pos.Path, Detail: "saved position dropped",
				Pos: Position{Path: pos.Path, Dev: id.dev, Ino: id.ino}})
		}
		return nil
	}
	o.source, o.backlogEnd = source, startupBacklog(o)
	o.quietSince, o.lastSize = s.cfg.Clock.Now(), o.src.pos
	o.complete = o.gz
	s.draining = append(s.draining, o)
	if _, followed := s.tracked[pos.Path]; !followed && pos.Path != o.path {
		// The saved position moves from its old name to the file's new one.
		// A compressed twin is another file: the position saved under the
		// old name is of the old identity, which is what ends there.
		kind, ended := EventMove, o.position(pos.Offset, false)
		if o.id != id {
			kind, ended = EventClose, Position{Path: pos.Path, Dev: id.dev, Ino: id.ino}
		}
		s.event(Event{Kind: kind, Source: source, Path: pos.Path, Pos: ended,
			Detail: "rotated again while stopped (now " + o.path + ")"})
	}
	s.event(Event{Kind: EventResume, Source: source, Path: o.path, Pos: o.position(pos.Offset, false),
		Detail: fmt.Sprintf("rotated while stopped; draining it from offset %d", pos.Offset)})
	return o
}

// walks reports whether pos is a followed name's position at offset 0
// that describes its rotated set (Position.Rotated): what came into the
// set since it was saved is read whole, in checkCurrent when the name
// still holds the file, in locate when it was rotated away.
func walks(pos Position, base string) bool {
	return pos.Offset == 0 && pos.Rotated != "" && pos.Path == base
}

// settleUnknown ends the saved position pos, at offset 0, of a rotated
// file that is no longer there under its identity: compressed, or
// deleted. No line of it was read, and nothing of its content is known.
// When a followed name's position at offset 0 had it placed its rotated
// set, the files that came into the set since were read whole (walked):
// it, compressed, is among them. Otherwise it is reported lost.
func (s *scanner) settleUnknown(pos Position, walked map[string]bool) {
	base := s.baseOf(pos.Path)
	source := pos.Path
	if base != "" {
		source = base
	}
	if !walked[base] {
		s.lost(source, pos.Path, 0, fmt.Sprintf("rotated file %s (%v), never read, is not there any more and was not found in %s; its lines, if any, were not read",
			pos.Path, fileID{pos.Dev, pos.Ino}, filepath.Dir(pos.Path)))
	}
	if _, followed := s.tracked[pos.Path]; !followed {
		s.event(Event{Kind: EventClose, Source: source, Path: pos.Path, Detail: "saved position dropped",
			Pos: Position{Path: pos.Path, Dev: pos.Dev, Ino: pos.Ino}})
	}
}

// rotatedName reports whether name can be the file whose position was
// saved under path for the followed name base: path itself, or a name of
// the rotated set of path or base.
func rotatedName(name, path, base string) bool {
	if name == path {
		return true
	}
	for _, b := range []string{path, base} {
		if b == "" {
			continue
		}
		if _, ok := parseRotated(filepath.Base(b), filepath.Base(name)); ok {
			return true
		}
	}
	return false
}

// findID returns the name of the regular file with identity id: path
// itself, or an entry of one of dirs; "" when there is none.
func (s *scanner) findID(path string, dirs []string, id fileID) string {
	if fi, err := os.Stat(path); err == nil {
		if got, _ := idOf(fi); got == id {
			return path
		}
	}
	for _, d := range dirs {
		if name, ok := findByID(d, id); ok {
			return name
		}
	}
	return ""
}

// openSaved opens the file at name, which had identity id, for reading
// from the saved position pos. It returns why not otherwise.
func (s *scanner) openSaved(name string, id fileID, pos Position) (*openFile, string) {
	f, name, err := openID(name, id)
	if err != nil {
		return nil, fmt.Sprintf("rotated file %s cannot be opened: %v", name, err)
	}
	o, why := s.openAt(f, id, name, pos)
	if why != "" {
		f.Close()
		return nil, fmt.Sprintf("rotated file %s does not match its saved position: %s", name, why)
	}
	return o, ""
}

// errGone says that a file looked for by its identity is no longer in its
// directory.
var errGone = errors.New("no longer there")

// openID opens the regular file with identity id, found at path: if a
// rotation renamed it since, it is found again by identity in path's
// directory (a few times at most). It returns the name it was opened at.
func openID(path string, id fileID) (*os.File, string, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.Open(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, path, err
		}
		if err == nil {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, path, err
			}
			if got, _ := idOf(fi); got == id && fi.Mode().IsRegular() {
				return f, path, nil
			}
			f.Close()
		}
		name, ok := findByID(filepath.Dir(path), id)
		if !ok || attempt == 3 {
			return nil, path, fmt.Errorf("open %s: the file (%v) is %w", path, id, errGone)
		}
		path = name
	}
}

// readWhole queues a rotated file of base that logtally has never read to
// be read from its start: created and rotated away (or copied away), as
// what says, while logtally was stopped (at startup: its lines are
// backlog), or between two checks. A file followed under a name of its
// own (a glob matching the rotated names) is read from its start by open
// instead. A file that cannot be opened is reported lost.
func (s *scanner) readWhole(base, path string, id fileID, taken map[fileID]bool, what string) *openFile {
	o, gone := s.openWhole(base, path, id, taken, what)
	if gone {
		s.lostWhole(base, path)
	}
	return o
}

// lostWhole reports that the rotated file at path, never read, is gone.
func (s *scanner) lostWhole(base, path string) {
	s.lost(base, path, 0, fmt.Sprintf("rotated file %s, never read, cannot be opened: it is no longer there", path))
}

// openWhole is readWhole, but for a file that is no longer there, which
// it leaves to the caller to report: gone is then true.
func (s *scanner) openWhole(base, path string, id fileID, taken map[fileID]bool, what string) (o *openFile, gone bool) {
	if taken[id] {
		return nil, false
	}
	f, path, err := openID(path, id)
	switch {
	case errors.Is(err, errGone):
		return nil, true
	case err != nil:
		s.lost(base, path, 0, fmt.Sprintf("rotated file %s, never read, cannot be opened: %v", path, err))
		return nil, false
	}
	taken[id] = true
	if s.readBefore(f) {
		f.Close()
		s.event(Event{Kind: EventClose, Source: base, Path: path,
			Detail: "compressed or renamed twin of a content already read whole; not read again"})
		return nil, false
	}
	start := Position{Path: path, Dev: id.dev, Ino: id.ino, HeadHash: hash64(nil), TailHash: hash64(nil)}
	if _, followed := s.tracked[path]; followed {
		f.Close()
		s.resume[id] = start
		return nil, false
	}
	o, why := s.openAt(f, id, path, start)
	if why != "" {
		f.Close()
		s.lost(base, path, 0, fmt.Sprintf("rotated file %s, never read, cannot be read: %s", path, why))
		return nil, false
	}
	o.source = base
	detail := what + " between two checks; reading it from the start"
	if !s.started {
		o.backlogEnd = startupBacklog(o)
		detail = what + " while logtally was stopped; reading it from the start"
	}
	o.quietSince, o.lastSize = s.cfg.Clock.Now(), 0
	o.complete = o.gz
	s.draining = append(s.draining, o)
	s.event(Event{Kind: EventOpen, Source: base, Path: path, Pos: o.position(0, false), Detail: detail})
	return o, false
}

func sortedIDs(m map[fileID]Position) []fileID {
	ids := make([]fileID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return m[ids[i]].Path < m[ids[j]].Path })
	return ids
}
