package follow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/logtally/logtally/lines"
)

// openFile is a regular file being read: the current file of a followed
// name, or one being drained (rotated away, a copy made by copytruncate,
// a rotated file found at startup), plain or gzip.
type openFile struct {
	id     fileID
	f      *os.File
	gz     bool // read through gzip: forward only, never grows
	src    contentReader
	r      *lines.Reader
	fp     *prints
	source string // Batch.Source
	path   string // Position.Path: the name the file is followed by
	real   string // the path with symlinks resolved, when opened
	tail   tailWindow
	// Lines starting before backlogEnd were in the file at startup.
	backlogEnd int64
	readErr    string // last read error reported
	seen       int64  // the largest size seen of the current content

	// complete: the file will not grow (a copy, a gzip file); it is
	// closed once read to its end.
	complete bool
	// hole, after a truncation, watches the start of the new content for
	// the hole a writer without O_APPEND leaves.
	hole *holeWatch
	// nulAt: reading stopped at NUL bytes (contentReader.guard), to
	// check the content again.
	nulAt bool
	// before is, while no complete line of the current content has been
	// read (the file was empty, or held a partial line or a hole), what
	// its rotated set held: a copytruncate before the next look leaves
	// nothing in the file to tell it by, only a copy that was not there.
	before siblings

	// Draining state of a rotated-away file.
	quietSince time.Time // when it was retired, or last grew
	lastSize   int64
}

// holeWatch is what is known, after a truncation, of the old content's
// end: a writer that does not append (O_APPEND) writes on at its old
// offset, leaving a hole of NUL bytes as long as the old content was when
// it was truncated. Then the bytes between what logtally has (read, or in
// the copy) and that length are proven lost.
type holeWatch struct {
	have     int64 // old content bytes logtally read or found in a copy
	reported int64 // bytes already reported lost beyond have
}

// startPlain makes the plain file o ready to be read from off: its head,
// sampled windows and tail are taken from the file.
func (o *openFile) startPlain(off int64, maxLine int) {
	if fi, err := o.f.Stat(); err == nil {
		if h, err := readHead(o.f, fi.Size()); err == nil {
			o.fp.head = h
		}
	}
	_ = o.fp.fill(o.f, off)
	_ = o.tail.load(o.f, off)
	o.src = contentReader{f: o.f, pos: off, fp: o.fp}
	o.r = lines.NewReader(&o.src, off, maxLine)
}

// position returns the position of o at off, the end of the last line
// handed over: the tail window must describe the bytes before off. With
// reread, a tail window lost to a cut line is read again from the file.
func (o *openFile) position(off int64, reread bool) Position {
	if !o.tail.known && reread && !o.gz {
		_ = o.tail.load(o.f, off)
	}
	p := Position{
		Path: o.path, Dev: o.id.dev, Ino: o.id.ino, Offset: off,
		HeadLen: len(o.fp.head), HeadHash: hash64(o.fp.head), Gzip: o.gz,
	}
	if o.tail.known {
		p.TailLen, p.TailHash = len(o.tail.b), hash64(o.tail.b)
	}
	p.SampleStride, p.SampleCount, p.SampleHash = o.fp.upTo(off)
	p.Prefixes = o.fp.prefixes(p.HeadLen, p.SampleCount)
	if off == 0 && o.before != nil {
		p.Rotated = o.before.String()
	}
	return p
}

// prefixAt returns, from memory, a position at offset at of o's content,
// whose offset read to is off (at < off): the content's first bytes, the
// sampled windows that end by at, and the bytes before off that at
// reaches, as far as they are known. It describes a copy made when the
// content was at bytes long, to verify it with.
func (o *openFile) prefixAt(at, off int64) Position {
	head := o.fp.head[:min(int64(len(o.fp.head)), at)]
	p := Position{Path: o.path, Offset: at, HeadLen: len(head), HeadHash: hash64(head), TailHash: hash64(nil)}
	if from := off - int64(len(o.tail.b)); o.tail.known && at > from {
		tail := o.tail.b[:at-from]
		p.TailLen, p.TailHash = len(tail), hash64(tail)
	}
	p.SampleStride, p.SampleCount, p.SampleHash = o.fp.upTo(at)
	return p
}

// closeFile releases o's descriptor (and decompressor).
func (o *openFile) closeFile() {
	if o.src.zr != nil {
		o.src.zr.Close()
	}
	o.f.Close()
}

// identity returns a position that only names o, for the events that end
// its position.
func (o *openFile) identity() Position {
	return Position{Path: o.path, Dev: o.id.dev, Ino: o.id.ino}
}

// tracked is one followed name: a configured path or a glob match.
type tracked struct {
	path string
	glob bool // from a glob, not a configured path
	cur  *openFile
	fifo *fifoReader
	// moved: the name is gone but cur is still linked (renamed away); it
	// is read as the current file until a new one appears.
	moved bool
	// startup: not opened since startup, so Start and Saved apply.
	startup   bool
	startID   fileID // identity and size seen at startup
	startSize int64
	haveStart bool
	saved     *Position // saved position under this name
	errKey    string    // the error last reported, reported once
	// absent is the name's rotated set as it was when the name was first
	// seen missing, with nothing of it being read: what comes into the set
	// before the name appears again was written under it and rotated away
	// between two looks (see appeared).
	absent siblings
}

// statResult is what stat(name) gave in one check.
type statResult struct {
	fi  os.FileInfo
	id  fileID
	err error
}

// scanner holds the state machine of every followed file. It is used by a
// single goroutine (Files.Run); FIFO readers have their own.
type scanner struct {
	cfg      FileConfig
	sink     *sink
	tracked  map[string]*tracked
	draining []*openFile
	// resume holds saved positions by identity (the highest offset when
	// several names were saved for one file), until used at startup.
	resume map[fileID]Position
	// resetWhy says, for a followed file that no longer matches its saved
	// position, where the content it had was found (startup).
	resetWhy map[fileID]string
	// holes: followed files truncated while stopped, whose new content is
	// watched for a hole (startup).
	holes   map[fileID]*holeWatch
	started bool
	// more: a file was left with unread data (maxReadPerCheck); check
	// again without waiting.
	more     bool
	stopping func() bool
	// dirsChanged: a file was opened, so the directories to watch may
	// have changed.
	dirsChanged bool
	batch       batcher
	headBuf     []byte
	// checked, when set (by tests), runs between the content check of a
	// followed file and its read: where a truncation can come unseen.
	checked func()
	// readPrints: the contents of the last complete files (copies, gzip
	// files) read to their end, so that one is not read again from a
	// compressed twin (readcontent.go).
	readPrints []contentPrint
	// globDirs: the identities of the regular files of each directory
	// that glob matches were in at the last expansion, by directory; the
	// rotated files a new match has that were not there came into its
	// set since (see resolve).
	globDirs map[string]map[fileID]bool
}

// maxReadPerCheck is how much of one file a check reads at most.
const maxReadPerCheck = 8 << 20

// newScanner returns a scanner; stopping reports that the follower is
// shutting down.
func newScanner(cfg FileConfig, sk *sink, stopping func() bool) *scanner {
	return &scanner{cfg: cfg, sink: sk, tracked: make(map[string]*tracked),
		headBuf: make([]byte, MaxHeadLen), stopping: stopping}
}

func (s *scanner) event(e Event) { s.sink.event(e) }

func (s *scanner) count(source string, f func(*SourceStats)) { s.sink.stats.update(source, f) }

// lost reports that lines of source may be, or — bytes > 0 — are proven
// to be lost.
func (s *scanner) lost(source, path string, bytes int64, detail string) {
	s.count(source, func(st *SourceStats) {
		st.Losses++
		st.LostBytes += uint64(max(bytes, 0))
	})
	s.event(Event{Kind: EventLost, Source: source, Path: path, Detail: detail})
}

// resolve expands the configured paths into tracked names. A match that
// is new after startup — a log created since the last expansion — may
// have been written and rotated before this look: the files of its
// rotated set that were not in its directory at the last expansion are
// read whole before it (absent, see appeared).
func (s *scanner) resolve() {
	matched := make(map[string]bool)
	listed := make(map[string]map[fileID]bool)
	for _, pat := range s.cfg.Paths {
		if !hasMeta(pat) {
			s.track(pat, false)
			matched[pat] = true
			continue
		}
		ms, _ := filepath.Glob(pat) // the pattern was checked by NewFiles
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				continue
			}
			dir := filepath.Dir(m)
			if _, ok := listed[dir]; !ok {
				listed[dir] = filesIn(dir)
			}
			_, known := s.tracked[m]
			s.track(m, true)
			if !known && s.started {
				s.tracked[m].absent = earlierSiblings(m, s.globDirs[dir])
			}
			matched[m] = true
		}
	}
	s.globDirs = listed
	for p, t := range s.tracked {
		if !matched[p] && t.glob && t.cur == nil && t.fifo == nil {
			delete(s.tracked, p)
		}
	}
}

// filesIn returns the identities of the regular files in dir.
func filesIn(dir string) map[fileID]bool {
	ids := make(map[fileID]bool)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ids
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			id, _ := idOf(fi)
			ids[id] = true
		}
	}
	return ids
}

// earlierSiblings describes the files of name's rotated set that were in
// its directory when it was last listed (there: nil when it was not):
// the others came since. It returns nil when there is nothing to compare
// with, so that every rotated file is taken as older than name.
func earlierSiblings(name string, there map[fileID]bool) siblings {
	if there == nil {
		return nil
	}
	set := statSet(name)
	set = slices.DeleteFunc(set, func(rf rotatedNow) bool { return !there[rf.id] })
	return siblingsOf(set, nil)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func (s *scanner) track(p string, glob bool) {
	if _, ok := s.tracked[p]; ok {
		return
	}
	t := &tracked{path: p, glob: glob, startup: !s.started}
	if t.startup {
		if pos, ok := s.cfg.Saved[p]; ok {
			pos.Path = p
			t.saved = &pos
		}
	}
	s.tracked[p] = t
}

// scan is one check of every followed name; see the package documentation
// for the state machine. full expands globs again.
func (s *scanner) scan(full bool) {
	s.more = false
	if full || !s.started {
		s.resolve()
	}
	paths := sortedKeys(s.tracked)
	st := make(map[string]statResult, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		r := statResult{fi: fi, err: err}
		if err == nil {
			r.id, _ = idOf(fi)
		}
		st[p] = r
	}
	if !s.started {
		s.startup(paths, st)
		s.started = true
	}

	// Identity: has each name kept its file?
	for _, p := range paths {
		t, r := s.tracked[p], st[p]
		switch {
		case errors.Is(r.err, fs.ErrNotExist):
			t.errKey = ""
			if t.fifo != nil {
				s.stopFIFO(t)
			}
			if t.cur != nil {
				fi, err := t.cur.f.Stat()
				if err == nil && nlinkOf(fi) > 0 {
					t.moved = true // renamed away: keep reading it
					continue
				}
				o := t.cur
				t.cur, t.moved = nil, false
				s.unlinked(t.path, o, EventDelete, "unlinked; read to its end and closed")
			}
			if t.absent == nil && !t.glob {
				t.absent = siblingsOf(statSet(p), nil)
			}
		case r.err != nil:
			// EACCES during logrotate's create-then-chmod window, EIO...:
			// never fatal; the open file keeps being read.
			s.reportErr(t, "stat", r.err)
		default:
			if strings.HasPrefix(t.errKey, "stat:") {
				t.errKey = "" // the episode is over
			}
			if t.fifo != nil && (t.fifo.id != r.id || t.fifo.exited()) {
				s.stopFIFO(t)
			}
			if t.cur != nil && t.cur.id != r.id {
				s.retire(t, st)
			}
		}
	}

	// Open what appeared: adopt a file already being drained under another
	// name, skip a file already followed under another name (hard link),
	// or open it.
	following := make(map[fileID]bool)
	for _, p := range paths {
		if t := s.tracked[p]; t.cur != nil {
			following[t.cur.id] = true
		}
	}
	for _, p := range paths {
		t, r := s.tracked[p], st[p]
		if r.err != nil || t.cur != nil || t.fifo != nil || following[r.id] {
			continue
		}
		if i := slices.IndexFunc(s.draining, func(o *openFile) bool { return o.id == r.id && !o.gz }); i >= 0 {
			o := s.draining[i]
			s.draining = slices.Delete(s.draining, i, i+1)
			o.path, o.source, o.complete = p, p, false
			t.cur, t.startup = o, false
			following[o.id] = true
			continue
		}
		s.open(t, r)
		if t.cur != nil {
			following[t.cur.id] = true
		}
	}

	// Read: old files first, so lines come in the order written.
	now := s.cfg.Clock.Now()
	for _, o := range slices.Clone(s.draining) {
		s.drain(o, now)
	}
	for _, p := range paths {
		if t := s.tracked[p]; t.cur != nil {
			s.readCurrent(t)
		}
	}
}

// reportErr reports a failure to check or open t once per episode and
// counts every attempt.
func (s *scanner) reportErr(t *tracked, op string, err error) {
	s.count(t.path, func(st *SourceStats) { st.OpenErrors++ })
	key := op + ": " + errKey(err)
	if key == t.errKey {
		return
	}
	t.errKey = key
	s.event(Event{Kind: EventOpenError, Source: t.path, Path: t.path, Err: fmt.Errorf("%s: %w", op, err),
		Detail: "will retry"})
}

// errKey identifies an error for "report once": its errno when it has one.
func errKey(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// open opens the file now at t's name and decides where to start reading.
func (s *scanner) open(t *tracked, r statResult) {
	switch {
	case r.fi.Mode()&os.ModeNamedPipe != 0:
		s.startFIFO(t)
		return
	case !r.fi.Mode().IsRegular():
		s.reportErr(t, "open", fmt.Errorf("%s is not a regular file or FIFO", t.path))
		return
	}
	f, err := os.Open(t.path)
	if err != nil {
		s.reportErr(t, "open", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		// Replaced between stat and open: look again at the next check.
		f.Close()
		return
	}
	id, _ := idOf(fi)
	t.errKey = ""
	if id != r.id {
		// The name was rotated between its stat and its open: the file
		// stat'ed never became current here.
		s.missed(t, r.id)
	}
	if t.absent != nil {
		s.appeared(t)
	}
	o, e := s.begin(t, f, id, fi.Size())
	t.startup = false
	t.cur, t.moved = o, false
	s.dirsChanged = true
	s.event(e)
}

// appeared queues to be read whole, oldest first, the files that came
// into the rotated set of t's name while the name was missing (t.absent):
// written under it and rotated away before the follower looked again.
// The file that now holds the name is read after them.
func (s *scanner) appeared(t *tracked) {
	before := t.absent
	t.absent = nil
	taken := s.takenIDs()
	s.readAllWhole(t.path, newCopies(statSet(t.path), before, taken, 0, hash64(nil)), taken, "rotated in and away")
}

// begin decides where the file f (identity id, size size) that t's name
// holds is read from — see the package documentation — and returns it
// ready to be read, with the event that says so.
func (s *scanner) begin(t *tracked, f *os.File, id fileID, size int64) (*openFile, Event) {
	var (
		offset, backlogEnd int64
		kind               = EventOpen
		detail             string
		hole               *holeWatch
	)
	pos, resume := s.resume[id]
	switch {
	case !t.startup:
		detail = "appeared; reading from the start"
	case resume:
		delete(s.resume, id)
		backlogEnd = size
		if why := verify(f, size, pos); why != "" {
			kind, detail = EventReset, "saved position not usable: "+why+"; "+s.resetWhy[id]+"reading from the start"
			hole = s.holes[id]
		} else {
			offset, kind = pos.Offset, EventResume
			detail = fmt.Sprintf("resuming at offset %d", offset)
			hole = s.holes[id] // after copies made while stopped, if any
		}
	case t.saved != nil:
		backlogEnd = size
		kind = EventReset
		detail = fmt.Sprintf("replaced while stopped (was %v, now %v); reading the new file from the start",
			fileID{t.saved.Dev, t.saved.Ino}, id)
	case s.cfg.Start == "beginning":
		backlogEnd = size
		detail = "first seen; reading from the beginning"
	case t.haveStart && t.startID == id:
		offset = lineStart(f, t.startSize, s.maxLine())
		detail = fmt.Sprintf("first seen; reading from the end (offset %d)", offset)
	default:
		detail = "replaced since startup; reading from the start"
	}
	o := &openFile{id: id, f: f, source: t.path, path: t.path, fp: newPrints(), backlogEnd: backlogEnd,
		seen: size, hole: hole}
	if offset == 0 {
		o.before = siblingsOf(statSet(t.path), nil)
	}
	if real, err := filepath.EvalSymlinks(t.path); err == nil {
		o.real = real
	}
	o.startPlain(offset, s.cfg.MaxLine)
	return o, Event{Kind: kind, Source: t.path, Path: t.path, Detail: detail, Pos: o.position(offset, true)}
}

// missed handles the file with identity gone that t's name held when it
// was looked at, but no longer when it was opened: rotated away (or
// deleted) in between, it is read as it would have been as the current
// file, under the name it has now, and so are the files rotated in after
// it.
func (s *scanner) missed(t *tracked, gone fileID) {
	taken := s.takenIDs()
	if taken[gone] {
		return
	}
	f, name, err := openID(t.path, gone)
	if err != nil {
		s.lost(t.path, t.path, 0, fmt.Sprintf("%s was replaced twice before it could be opened, and the file in between cannot be read: %v; its lines, if any, were not read",
			t.path, err))
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	o, e := s.begin(t, f, gone, fi.Size())
	o.path, e.Pos.Path, e.Path = name, name, name
	e.Detail = "rotated away before it was opened; " + e.Detail
	o.quietSince, o.lastSize = s.cfg.Clock.Now(), fi.Size()
	s.draining = append(s.draining, o)
	taken[gone] = true
	s.event(e)
	s.readNewer(t.path, o, taken)
}

func (s *scanner) maxLine() int {
	if s.cfg.MaxLine > 0 {
		return s.cfg.MaxLine
	}
	return lines.DefaultMax
}

// retire moves t's current file, whose name now refers to another file, to
// the draining list.
func (s *scanner) retire(t *tracked, st map[string]statResult) {
	o := t.cur
	t.cur, t.moved = nil, false
	s.count(t.path, func(x *SourceStats) { x.Rotations++ })
	fi, err := o.f.Stat()
	if err != nil || nlinkOf(fi) == 0 {
		s.event(Event{Kind: EventRotate, Source: t.path, Path: t.path, Detail: "replaced; the old file was unlinked"})
		s.unlinked(t.path, o, EventDelete, "unlinked; read to its end and closed")
		return
	}
	old := o.path
	o.path = s.nameOf(o, t, st)
	o.quietSince, o.lastSize = s.cfg.Clock.Now(), fi.Size()
	s.draining = append(s.draining, o)
	where := "its new name is unknown"
	if o.path != "" {
		where = "now " + o.path
	}
	// The old file's position moves to its new name first; the new file's
	// start, saved under the name when it is opened, replaces it there.
	s.event(Event{Kind: EventRotate, Source: t.path, Path: old,
		Detail: "replaced by a new file; draining the old one (" + where + ")",
		Pos:    o.position(o.r.Offset(), true)})
	if o.path != "" {
		// Rotated more than once since the last check: the files between
		// were never seen.
		s.readNewer(t.path, o, s.takenIDs())
	}
}

// unlinked finishes o, the file that base's name held, once it is
// unlinked (rotated away and compressed, or deleted): it is read to its
// end and closed, reporting kind. Then the files rotated in after it are
// read whole, oldest first: when base was rotated more than once since
// the last look, a file created in between and rotated away (and
// compressed) before any look was never seen. Those that come after o's
// content in base's rotated set are they: o's content is placed there by
// its print (logrotate compressed o into a .gz twin), newest first. An
// empty content tells nothing by its print: then the files that came
// into the set since the last look, not empty and not compressed twins of
// files that were there, are they (newCopies, with o.before). A content
// found nowhere in the set (deleted, not rotated) leaves nothing to read.
func (s *scanner) unlinked(base string, o *openFile, kind EventKind, detail string) {
	p, whole := s.finish(o, kind, detail)
	if !whole {
		return
	}
	taken := s.takenIDs()
	if p.size == 0 {
		if o.before == nil {
			return
		}
		s.readAllWhole(base, s.dropRead(newCopies(statSet(base), o.before, taken, 0, hash64(nil))), taken, "rotated in and away")
		return
	}
	if twin, ok := findTwin(base, p, taken); ok {
		taken[twin.id] = true
		s.readNewer(base, &openFile{id: twin.id, path: twin.path}, taken)
	}
}

// nameOf finds the name a rotated file has now: another followed name, or
// an entry of its directory (or of its symlink target's directory) with
// the same identity. It returns "" when there is none.
func (s *scanner) nameOf(o *openFile, t *tracked, st map[string]statResult) string {
	for p, r := range st {
		if r.err == nil && r.id == o.id && p != t.path {
			return p
		}
	}
	dirs := []string{filepath.Dir(t.path)}
	if o.real != "" && filepath.Dir(o.real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(o.real))
	}
	for _, d := range dirs {
		if p, ok := findByID(d, o.id); ok {
			return p
		}
	}
	return ""
}

// checkContent detects a truncation or in-place rewrite of o (same
// identity), before anything new is read: see the package documentation.
// It returns why the content is no longer what was read, or "".
func (s *scanner) checkContent(o *openFile, size int64) string {
	readPos := o.src.pos
	if size < readPos {
		return fmt.Sprintf("size %d is below the read offset %d", size, readPos)
	}
	n := int(min(size, MaxHeadLen))
	got, err := preadFull(o.f, s.headBuf[:n], 0)
	if err != nil {
		return "" // an I/O error is not a truncation; reading reports it
	}
	buf, head := s.headBuf[:got], o.fp.head
	switch {
	case got < n && int64(got) < readPos:
		// Truncated since the stat above: the read found its end.
		return fmt.Sprintf("size %d is below the read offset %d", got, readPos)
	case len(buf) < len(head):
		return fmt.Sprintf("size %d is below the %d first bytes seen", len(buf), len(head))
	case !bytes.Equal(buf[:len(head)], head):
		return fmt.Sprintf("the first %d bytes changed", len(head))
	case len(buf) > len(head):
		o.fp.head = append(o.fp.head, buf[len(head):]...) // the file grew past them
	}
	if !o.fp.broken {
		win := s.headBuf[:SampleLen]
		for i, h := range o.fp.hashes {
			at := int64(i+1) * o.fp.stride
			if n, err := preadFull(o.f, win, at); err == nil && (n < SampleLen || hash64(win) != h) {
				return fmt.Sprintf("the %d bytes sampled at offset %d changed", SampleLen, at)
			}
		}
	}
	off := o.r.Offset()
	if o.tail.known && len(o.tail.b) > 0 {
		b, err := readBefore(o.f, off, len(o.tail.b))
		if err == nil && !bytes.Equal(b, o.tail.b) {
			return fmt.Sprintf("the %d bytes before offset %d changed", len(o.tail.b), off)
		}
	}
	return ""
}

// readCurrent checks t's current file for truncation, then reads it.
func (s *scanner) readCurrent(t *tracked) {
	o := t.cur
	fi, err := o.f.Stat()
	if err != nil {
		s.reportErr(t, "stat open file", err)
		return
	}
	var (
		why    string
		copies []unseenFile
		set    []rotatedNow
	)
	if o.before != nil {
		set = statSet(t.path)
		copies = s.dropRead(newCopies(set, o.before, s.takenIDs(), len(o.fp.head), hash64(o.fp.head)))
		copies = slices.DeleteFunc(copies, func(c unseenFile) bool { return s.ofCurrent(t.path, c.path) })
		if len(copies) > 0 {
			why = "copied away and truncated before a complete line of it was read"
		}
	}
	if why == "" {
		why = s.checkContent(o, fi.Size())
	}
	switch {
	case why != "":
		s.truncated(t, o, why, copies)
	case set != nil:
		// While nothing of the content is read, the set is described
		// again at every look, from the listing just compared: rotated
		// files that grew or were renamed since are no copies.
		o.seen = max(o.seen, fi.Size())
		o.before = siblingsOf(set, o.before)
	default:
		o.seen = max(o.seen, fi.Size())
	}
	if o.r.Offset() == 0 && o.before == nil {
		o.before = siblingsOf(statSet(t.path), nil)
	}
	if s.checked != nil {
		s.checked()
	}
	s.guarded(o, true)
	if o.nulAt || o.src.changed {
		// logrotate may have copied and truncated the file since the
		// check above: reading went on into NUL bytes (its writer,
		// without O_APPEND, went on at its old offset, leaving a hole
		// where the content read so far went on), or the file no longer
		// starts as it did (its writer, with O_APPEND, refilled it past
		// the offset). Check again, before a byte of it is taken.
		o.nulAt = false
		if fi, err := o.f.Stat(); err == nil {
			why := s.checkContent(o, fi.Size())
			if why == "" && o.src.changed {
				// Only the partial line read last changed, which the
				// fingerprints do not cover.
				why = fmt.Sprintf("the bytes read before offset %d changed", o.src.pos)
			}
			if why != "" {
				s.truncated(t, o, why+" (while it was read)", nil)
			}
		}
		// The new content, or NUL bytes of the file's own; truncated
		// again meanwhile, the next check sees it.
		s.guarded(o, false)
	}
	if o.r.Offset() > 0 {
		o.before = nil
	}
}

// guarded reads o, the current file of a followed name, guarded against
// a truncation since its check (contentReader.guard), stopping at a NUL
// byte when stopAtNUL.
func (s *scanner) guarded(o *openFile, stopAtNUL bool) {
	o.src.guard, o.src.stopAtNUL, o.src.changed = true, stopAtNUL, false
	s.read(o, false)
	o.src.guard, o.src.stopAtNUL = false, false
}

// truncated handles a truncation or in-place rewrite of t's current file
// o: the unread part of the old content is read from its copy, when one is
// found next to it (logrotate's copytruncate), else its partial last line
// read so far is delivered; then o is read again from its start. copies,
// when o had no complete line read of its content, are the files of its
// rotated set that came since (newCopies): the first is that content's
// copy, read whole with the hole it may start with, the others later
// copies.
func (s *scanner) truncated(t *tracked, o *openFile, why string, copies []unseenFile) {
	s.count(t.path, func(x *SourceStats) { x.Truncations++ })
	off, readEnd := o.r.Offset(), o.src.pos
	old := o.position(off, false) // from memory: the file no longer holds it
	skip := map[fileID]bool{o.id: true}
	for _, d := range s.draining {
		skip[d.id] = true
	}
	have := readEnd
	var (
		cp       *openFile
		later    []*openFile
		readCopy unseenFile // a copy of nothing unread (findRead)
		readAll  bool
	)
	switch {
	case len(copies) > 0:
		later = s.readAllWhole(t.path, copies, s.takenIDs(), "copied away by a copytruncate")
		if len(later) > 0 {
			cp, later = later[0], later[1:]
			cp.complete, cp.backlogEnd, cp.hole = true, o.backlogEnd, o.hole
			have = max(have, contentSize(cp))
		}
	case o.before != nil:
		// Nothing of the content was read, and no copy came since: any
		// older file would verify against what little is known of it.
	default:
		if cp = s.findContent(t.path, old, skip); cp == nil {
			if readCopy, readAll = s.findRead(t.path, o, off, skip); readAll {
				later = s.readNewer(t.path, &openFile{id: readCopy.id, path: readCopy.path}, s.takenIDs())
			}
			break
		}
		// The copy has everything from off, the partial last line too.
		cp.source, cp.complete, cp.backlogEnd = t.path, true, o.backlogEnd
		have = max(have, contentSize(cp))
		s.draining = append(s.draining, cp)
		s.event(Event{Kind: EventOpen, Source: t.path, Path: cp.path, Pos: cp.position(off, false),
			Detail: fmt.Sprintf("copy of %s's old content; reading its unread part from offset %d", t.path, off)})
		// Copied and truncated more than once since the last check: the
		// later copies were never seen.
		later = s.readNewer(t.path, cp, s.takenIDs())
	}
	if cp != nil {
		why += fmt.Sprintf("; its unread part is read from its copy %s", cp.path)
	} else {
		// The old content is complete: deliver the partial last line read
		// from it (and nothing from the new content at the old offset).
		s.final(o)
		if readAll {
			why += fmt.Sprintf("; its copy %s holds nothing unread", readCopy.path)
		} else {
			why += "; no copy of its old content next to it"
		}
	}
	s.restart(o)
	o.before = siblingsOf(statSet(t.path), nil) // with the copies just found
	o.hole = chainHoles(have, later)
	// The old content was seen this long, and neither read nor copied:
	// the hole after it, if any, must not count those bytes again.
	seenLost := max(0, o.seen-have)
	if len(later) > 0 {
		later[0].hole.reported = seenLost
	} else {
		o.hole.reported = seenLost
	}
	// The old content first: what the copies hold, then the new content.
	now := s.cfg.Clock.Now()
	for _, d := range slices.Clone(s.draining) {
		if !skip[d.id] {
			s.drain(d, now)
		}
	}
	s.event(Event{Kind: EventTruncate, Source: t.path, Path: o.path, Detail: why + "; reading from the start",
		Pos: o.position(0, false)})
	switch {
	case seenLost > 0:
		s.lost(t.path, o.path, seenLost, fmt.Sprintf(
			"%d bytes of %s written before its truncation are in no file (it was seen %d bytes long; %d were read or copied)",
			seenLost, o.path, o.seen, have))
	case cp == nil && !readAll:
		s.lost(t.path, o.path, 0, fmt.Sprintf(
			"no copy of the old content of %s found next to it: lines written after offset %d before its truncation, if any, were not read",
			o.path, off))
	}
	o.seen = 0
}

// restart reads o again from its start.
func (s *scanner) restart(o *openFile) {
	o.fp = newPrints()
	o.src = contentReader{f: o.f, fp: o.fp}
	o.r.Reset(&o.src, 0)
	o.backlogEnd = 0
	o.tail.b, o.tail.known = o.tail.b[:0], true
	if fi, err := o.f.Stat(); err == nil {
		if h, err := readHead(o.f, fi.Size()); err == nil {
			o.fp.head = h
		}
	}
}

// skipHole looks, at the start of content read after a truncation (the
// truncated file, or a later copy), for a hole: NUL bytes up to where a
// writer without O_APPEND went on writing, after the old content's end.
// The hole is skipped, and the bytes of the content before it beyond what
// logtally has are reported lost. It returns false while the start of the
// content cannot tell yet.
func (s *scanner) skipHole(o *openFile) bool {
	end, ok := s.holeEnd(o)
	if !ok {
		return false
	}
	w := o.hole
	o.hole = nil
	if end == 0 {
		return true
	}
	if !o.gz {
		_ = o.fp.fill(o.f, end)
		_ = o.tail.load(o.f, end)
		o.src.pos = end
	}
	o.r.Reset(&o.src, end)
	if lost := end - w.have - w.reported; lost > 0 {
		s.lost(o.source, o.path, lost, fmt.Sprintf(
			"%d bytes written between a copy and a truncation (copytruncate) are in no file (%s starts with a hole of %d bytes, the length of the content before; %d of it were read or copied)",
			lost, o.path, end, w.have))
	}
	return true
}

// holeEnd returns where the data starts in o, a file read from its start:
// after the NUL bytes it starts with. ok is false while that cannot be
// told (nothing but NUL bytes so far in a file that may grow). A gzip file
// is read up to its data, which is then read again.
func (s *scanner) holeEnd(o *openFile) (end int64, ok bool) {
	buf := make([]byte, 64<<10)
	if o.gz {
		for {
			n, err := o.src.Read(buf)
			if i := slices.IndexFunc(buf[:n], func(c byte) bool { return c != 0 }); i >= 0 {
				o.src.unread(buf[i:n])
				o.tail.b, o.tail.known = make([]byte, min(o.src.pos, MaxTailLen)), true
				return o.src.pos, true
			}
			if err != nil {
				o.tail.b, o.tail.known = make([]byte, min(o.src.pos, MaxTailLen)), true
				return o.src.pos, true // only NUL bytes: a complete file
			}
		}
	}
	var b [1]byte
	if n, _ := preadFull(o.f, b[:], 0); n == 0 {
		return 0, false // empty: nothing to tell yet
	}
	if b[0] != 0 {
		return 0, true
	}
	// The hole's blocks hold nothing; the first data block may start with
	// NUL bytes of the hole.
	at, err := unix.Seek(int(o.f.Fd()), 0, unix.SEEK_DATA)
	if err != nil {
		at = 0
	}
	for {
		n, err := preadFull(o.f, buf, at)
		if i := slices.IndexFunc(buf[:n], func(c byte) bool { return c != 0 }); i >= 0 {
			return at + int64(i), true
		}
		if n < len(buf) || err != nil {
			// Only NUL bytes so far: wait for the data, unless the file is
			// complete (a copy of nothing but a hole).
			return at + int64(n), o.complete
		}
		at += int64(n)
	}
}

// drain reads a file being drained: a rotated-away file, closed once it is
// unlinked or has been quiet for RotateGrace; a complete one (a copy, a
// gzip file), closed once read to its end.
func (s *scanner) drain(o *openFile, now time.Time) {
	if o.complete {
		if s.read(o, false) {
			s.final(o)
			s.rememberRead(o)
			s.close(o, EventClose, "read to its end and closed")
		}
		return
	}
	fi, err := o.f.Stat()
	if err != nil {
		s.finish(o, EventClose, "cannot stat: "+err.Error())
		return
	}
	if fi.Size() < o.src.pos {
		s.final(o)
		s.close(o, EventClose, "truncated while draining; closed")
		return
	}
	s.rename(o, fi)
	s.read(o, false)
	switch {
	case nlinkOf(fi) == 0:
		s.finish(o, EventClose, "rotated file unlinked; read to its end and closed")
	case fi.Size() != o.lastSize:
		o.lastSize, o.quietSince = fi.Size(), now
	case now.Sub(o.quietSince) >= s.cfg.RotateGrace:
		s.finish(o, EventClose, "rotated file drained and closed")
	}
}

// rename follows a file being drained to its new name when it was rotated
// again (app.log.1 to app.log.2): its position moves there, so that the
// file that takes its old name can never be confused with it.
func (s *scanner) rename(o *openFile, fi os.FileInfo) {
	if o.path == "" || nlinkOf(fi) == 0 {
		return
	}
	if cur, err := os.Stat(o.path); err == nil {
		if id, _ := idOf(cur); id == o.id {
			return
		}
	}
	name, _ := findByID(filepath.Dir(o.path), o.id)
	old := o.path
	o.path = name
	where := "its new name is unknown"
	if name != "" {
		where = "now " + name
	}
	s.event(Event{Kind: EventMove, Source: o.source, Path: old, Detail: "rotated again while being drained (" + where + ")",
		Pos: o.position(o.r.Offset(), true)})
}

// finish reads o to its end, delivers its partial last line, closes it and
// reports kind. Its content, read whole, is remembered: a rotated-away file
// that logrotate compresses next is not read again from its .gz twin. It
// returns the print of that content when o is plain and was read whole.
func (s *scanner) finish(o *openFile, kind EventKind, detail string) (contentPrint, bool) {
	var (
		p     contentPrint
		whole bool
	)
	if s.read(o, true) {
		p, whole = s.rememberRead(o)
	}
	s.close(o, kind, detail)
	return p, whole
}

// close closes o and reports kind.
func (s *scanner) close(o *openFile, kind EventKind, detail string) {
	if o.src.zr != nil {
		o.src.zr.Close()
	}
	o.f.Close()
	if i := slices.Index(s.draining, o); i >= 0 {
		s.draining = slices.Delete(s.draining, i, i+1)
	}
	s.event(Event{Kind: kind, Source: o.source, Path: o.path, Detail: detail, Pos: o.identity()})
}

// read delivers o's complete lines up to its end; with final, its partial
// last line too. It reports whether it read to the end.
//
// Without final, at most maxReadPerCheck bytes are read, so that one file's
// backlog does not hold up the others: more is set, and the caller checks
// again at once. Reading stops early when the follower is stopping.
func (s *scanner) read(o *openFile, final bool) bool {
	if o.hole != nil && !s.skipHole(o) {
		return true
	}
	start := o.r.Offset()
	atEnd := false
	for {
		if o.r.Offset()-start >= maxReadPerCheck && (!final || s.stopping()) {
			if !final {
				s.more = true
			}
			break
		}
		before := o.r.Offset()
		line, cut, err := o.r.Next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				o.readErr, atEnd = "", true
			case errors.Is(err, errNUL):
				// Nothing read from the NUL bytes on: the partial line
				// before them is read again after the check.
				off := o.r.Offset()
				s.flush(o)
				o.src.pos = off
				o.r.Reset(&o.src, off)
				o.nulAt = true
			default:
				s.readFailed(o, err)
				atEnd = o.gz // a gzip file cannot be read again: it ends there
			}
			break
		}
		s.add(o, line, cut, false, before)
	}
	if final {
		s.final(o)
		return atEnd
	}
	s.flush(o)
	return atEnd
}

// final delivers the partial last line already read from o, if any, as a
// complete line, without reading further.
func (s *scanner) final(o *openFile) {
	before := o.r.Offset()
	if line, cut, ok := o.r.Final(); ok {
		s.add(o, line, cut, true, before)
	}
	s.flush(o)
}

// readFailed reports a read error once and rewinds the reader to the last
// complete line, to retry at the next check. A gzip stream cannot be read
// again: what follows the error is reported lost and the file closed.
func (s *scanner) readFailed(o *openFile, err error) {
	s.count(o.source, func(x *SourceStats) { x.OpenErrors++ })
	off := o.r.Offset()
	s.flush(o)
	if o.gz {
		o.complete = true
		o.r.Reset(&o.src, off) // drops the partial line: the stream ends here
		s.lost(o.source, o.path, 0, fmt.Sprintf("%s cannot be decompressed after offset %d: %v", o.path, off, err))
		return
	}
	if k := errKey(err); k != o.readErr {
		o.readErr = k
		s.event(Event{Kind: EventOpenError, Source: o.source, Path: o.path,
			Err: fmt.Errorf("read: %w", err), Detail: "will retry"})
	}
	o.src.pos = off
	o.r.Reset(&o.src, off)
}

func (s *scanner) add(o *openFile, line []byte, cut, final bool, before int64) {
	n := o.r.Offset() - before
	backlog := before < o.backlogEnd
	if !s.batch.empty() && s.batch.backlog != backlog {
		s.flushAt(o, before) // the batch ends where this line starts
	}
	s.batch.backlog = backlog
	s.batch.add(line, cut, n)
	o.tail.push(line, cut, final, n)
	if s.batch.full() {
		s.flush(o)
	}
}

// flush delivers the pending lines of o, which end at the reader's offset.
func (s *scanner) flush(o *openFile) { s.flushAt(o, o.r.Offset()) }

func (s *scanner) flushAt(o *openFile, off int64) {
	if s.batch.empty() {
		return
	}
	s.sink.deliver(&s.batch, o.source, o.position(off, true))
}

// watch adds inotify watches on the directories of the configured paths
// and of the files being read (symlink targets), so that any change there
// wakes the follower. Directories whose names hold glob characters are
// covered by the periodic re-check only.
func (s *scanner) watch(w *fsnotify.Watcher) {
	s.dirsChanged = false
	want := make(map[string]bool)
	for _, p := range s.cfg.Paths {
		if d := filepath.Dir(p); !hasMeta(d) {
			want[d] = true
		}
	}
	for _, t := range s.tracked {
		if t.cur != nil && t.cur.real != "" {
			want[filepath.Dir(t.cur.real)] = true
		}
	}
	have := make(map[string]bool)
	for _, d := range w.WatchList() {
		have[d] = true
	}
	for d := range want {
		if !have[d] {
			_ = w.Add(d) // a missing directory is retried at the next full check
		}
	}
}

// openNames counts the followed names with a file or FIFO open.
func (s *scanner) openNames() int {
	n := 0
	for _, t := range s.tracked {
		if t.cur != nil || t.fifo != nil {
			n++
		}
	}
	return n
}

// closeAll closes every file and stops every FIFO reader.
func (s *scanner) closeAll() {
	for _, t := range s.tracked {
		if t.cur != nil {
			t.cur.f.Close()
			t.cur = nil
		}
		if t.fifo != nil {
			s.stopFIFO(t)
		}
	}
	for _, o := range s.draining {
		if o.src.zr != nil {
			o.src.zr.Close()
		}
		o.f.Close()
	}
	s.draining = nil
}
