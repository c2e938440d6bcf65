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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/logtally/logtally/lines"
)

// fileSource reads a file with pread from its own offset, so that nothing
// depends on the descriptor's shared seek offset.
type fileSource struct {
	f   *os.File
	pos int64
}

// Read implements io.Reader.
func (s *fileSource) Read(p []byte) (int, error) {
	n, err := s.f.ReadAt(p, s.pos)
	s.pos += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// openFile is a regular file being read.
type openFile struct {
	id     fileID
	f      *os.File
	src    fileSource
	r      *lines.Reader
	source string // Batch.Source
	path   string // Position.Path: the name the file is followed by
	real   string // the path with symlinks resolved, when opened
	head   []byte // the first bytes of the file (≤ MaxHeadLen)
	tail   tailWindow
	// Lines starting before backlogEnd were in the file at startup.
	backlogEnd int64
	readErr    string // last read error reported

	// Draining state of a rotated-away file.
	quietSince time.Time // when it was retired, or last grew
	lastSize   int64
}

// position returns the position of o at off, the end of the last line
// handed over: the tail window must describe the bytes before off.
func (o *openFile) position(off int64) Position {
	_ = o.tail.ensure(o.f, off)
	p := Position{
		Path: o.path, Dev: o.id.dev, Ino: o.id.ino, Offset: off,
		HeadLen: len(o.head), HeadHash: hash64(o.head),
	}
	if o.tail.known {
		p.TailLen, p.TailHash = len(o.tail.b), hash64(o.tail.b)
	}
	return p
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
	resume  map[fileID]Position
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

// resolve expands the configured paths into tracked names.
func (s *scanner) resolve() {
	matched := make(map[string]bool)
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
			s.track(m, true)
			matched[m] = true
		}
	}
	for p, t := range s.tracked {
		if !matched[p] && t.glob && t.cur == nil && t.fifo == nil {
			delete(s.tracked, p)
		}
	}
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
				s.finish(t.cur, EventDelete, "unlinked; read to its end and closed")
				t.cur, t.moved = nil, false
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
		if i := slices.IndexFunc(s.draining, func(o *openFile) bool { return o.id == r.id }); i >= 0 {
			o := s.draining[i]
			s.draining = slices.Delete(s.draining, i, i+1)
			o.path, o.source = p, p
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
	size := fi.Size()
	head, err := readHead(f, size)
	if err != nil {
		f.Close()
		s.reportErr(t, "read", err)
		return
	}
	t.errKey = ""

	var (
		offset, backlogEnd int64
		kind               = EventOpen
		detail             string
	)
	pos, resume := s.resume[id]
	switch {
	case !t.startup:
		detail = "appeared; reading from the start"
	case resume:
		delete(s.resume, id)
		backlogEnd = size
		if why := verify(f, size, pos); why != "" {
			kind, detail = EventReset, "saved position not usable: "+why+"; reading from the start"
		} else {
			offset, kind = pos.Offset, EventResume
			detail = fmt.Sprintf("resuming at offset %d", offset)
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
	t.startup = false

	o := &openFile{id: id, f: f, source: t.path, path: t.path, head: head, backlogEnd: backlogEnd}
	if real, err := filepath.EvalSymlinks(t.path); err == nil {
		o.real = real
	}
	o.src = fileSource{f: f, pos: offset}
	o.r = lines.NewReader(&o.src, offset, s.cfg.MaxLine)
	_ = o.tail.load(f, offset)
	t.cur, t.moved = o, false
	s.dirsChanged = true
	e := Event{Kind: kind, Source: t.path, Path: t.path, Detail: detail}
	if kind != EventResume {
		e.Start = o.position(offset)
	}
	s.event(e)
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
		s.finish(o, EventDelete, "unlinked; read to its end and closed")
		return
	}
	o.path = s.nameOf(o, t, st)
	o.quietSince, o.lastSize = s.cfg.Clock.Now(), fi.Size()
	s.draining = append(s.draining, o)
	where := "its new name is unknown"
	if o.path != "" {
		where = "now " + o.path
	}
	s.event(Event{Kind: EventRotate, Source: t.path, Path: t.path,
		Detail: "replaced by a new file; draining the old one (" + where + ")"})
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
	readPos := o.r.Offset() + o.r.Pending()
	if size < readPos {
		return fmt.Sprintf("size %d is below the read offset %d", size, readPos)
	}
	n := int(min(size, MaxHeadLen))
	got, err := preadFull(o.f, s.headBuf[:n], 0)
	if err != nil {
		return "" // an I/O error is not a truncation; reading reports it
	}
	buf := s.headBuf[:got]
	switch {
	case len(buf) < len(o.head):
		return fmt.Sprintf("size %d is below the %d first bytes seen", len(buf), len(o.head))
	case !bytes.Equal(buf[:len(o.head)], o.head):
		return fmt.Sprintf("the first %d bytes changed", len(o.head))
	case len(buf) > len(o.head):
		o.head = append(o.head, buf[len(o.head):]...) // the file grew past them
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
	if why := s.checkContent(o, fi.Size()); why != "" {
		// The old content is complete: deliver the partial last line read
		// from it (and nothing from the new content at the old offset).
		s.final(o)
		s.count(t.path, func(x *SourceStats) { x.Truncations++ })
		s.event(Event{Kind: EventTruncate, Source: t.path, Path: o.path, Detail: why + "; reading from the start"})
		s.restart(o)
	}
	s.read(o, false)
}

// restart reads o again from its start.
func (s *scanner) restart(o *openFile) {
	o.src.pos = 0
	o.r.Reset(&o.src, 0)
	o.backlogEnd = 0
	o.tail.b, o.tail.known = o.tail.b[:0], true
	if fi, err := o.f.Stat(); err == nil {
		if h, err := readHead(o.f, fi.Size()); err == nil {
			o.head = h
		}
	}
}

// drain reads a rotated-away file and closes it once it is unlinked or has
// been quiet for RotateGrace.
func (s *scanner) drain(o *openFile, now time.Time) {
	fi, err := o.f.Stat()
	if err != nil {
		s.finish(o, EventClose, "cannot stat: "+err.Error())
		return
	}
	if fi.Size() < o.r.Offset()+o.r.Pending() {
		s.final(o)
		s.close(o, EventClose, "truncated while draining; closed")
		return
	}
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

// finish reads o to its end, delivers its partial last line, closes it and
// reports kind.
func (s *scanner) finish(o *openFile, kind EventKind, detail string) {
	s.read(o, true)
	s.close(o, kind, detail)
}

// close closes o and reports kind.
func (s *scanner) close(o *openFile, kind EventKind, detail string) {
	o.f.Close()
	if i := slices.Index(s.draining, o); i >= 0 {
		s.draining = slices.Delete(s.draining, i, i+1)
	}
	s.event(Event{Kind: kind, Source: o.source, Path: o.path, Detail: detail})
}

// read delivers o's complete lines up to its end; with final, its partial
// last line too.
//
// Without final, at most maxReadPerCheck bytes are read, so that one file's
// backlog does not hold up the others: more is set, and the caller checks
// again at once. Reading stops early when the follower is stopping.
func (s *scanner) read(o *openFile, final bool) {
	start := o.r.Offset()
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
			if !errors.Is(err, io.EOF) {
				s.readFailed(o, err)
			} else {
				o.readErr = ""
			}
			break
		}
		s.add(o, line, cut, false, before)
	}
	if final {
		s.final(o)
		return
	}
	s.flush(o)
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
// complete line, to retry at the next check.
func (s *scanner) readFailed(o *openFile, err error) {
	s.count(o.source, func(x *SourceStats) { x.OpenErrors++ })
	if k := errKey(err); k != o.readErr {
		o.readErr = k
		s.event(Event{Kind: EventOpenError, Source: o.source, Path: o.path,
			Err: fmt.Errorf("read: %w", err), Detail: "will retry"})
	}
	off := o.r.Offset()
	s.flush(o)
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
	s.sink.deliver(&s.batch, o.source, o.position(off))
}

// startup runs once, at the first check: it drains the files that saved
// positions refer to but no followed name does any more (rotated while
// logtally was stopped, or rotated files it had not finished), from their
// saved offsets, as backlog.
func (s *scanner) startup(paths []string, st map[string]statResult) {
	s.resume = make(map[fileID]Position)
	for _, k := range sortedKeys(s.cfg.Saved) {
		pos := s.cfg.Saved[k]
		pos.Path = k
		id := fileID{pos.Dev, pos.Ino}
		if old, ok := s.resume[id]; !ok || pos.Offset > old.Offset {
			s.resume[id] = pos
		}
	}
	current := make(map[fileID]bool)
	for _, p := range paths {
		t, r := s.tracked[p], st[p]
		switch {
		case r.err == nil:
			current[r.id] = true
			t.startID, t.startSize, t.haveStart = r.id, r.fi.Size(), true
		case errors.Is(r.err, fs.ErrNotExist):
			t.startup = false // it will appear later, and be read from its start
		}
	}
	for _, id := range sortedIDs(s.resume) {
		if current[id] {
			continue // opened (and verified) under its name by open
		}
		pos := s.resume[id]
		delete(s.resume, id)
		s.drainSaved(id, pos)
	}
}

func sortedIDs(m map[fileID]Position) []fileID {
	ids := make([]fileID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return m[ids[i]].Path < m[ids[j]].Path })
	return ids
}

// drainSaved finds the file a saved position was for, by identity, under
// its saved name or in that name's directory, verifies it and drains it
// from the saved offset.
func (s *scanner) drainSaved(id fileID, pos Position) {
	source := pos.Path
	if t, ok := s.tracked[pos.Path]; ok {
		source = t.path
	}
	lost := func(why string) {
		s.event(Event{Kind: EventLost, Source: source, Path: pos.Path,
			Detail: fmt.Sprintf("%s; lines written to it after offset %d, if any, were not read", why, pos.Offset)})
	}
	name := ""
	if fi, err := os.Stat(pos.Path); err == nil {
		if got, _ := idOf(fi); got == id {
			name = pos.Path
		}
	}
	dirs := []string{filepath.Dir(pos.Path)}
	if real, err := filepath.EvalSymlinks(pos.Path); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real)) // a symlink's target rotates in its own directory
	}
	for _, d := range dirs {
		if name != "" {
			break
		}
		name, _ = findByID(d, id)
	}
	if name == "" {
		lost(fmt.Sprintf("rotated file (%v) not found in %s", id, strings.Join(dirs, " or ")))
		return
	}
	f, err := os.Open(name)
	if err != nil {
		lost(fmt.Sprintf("rotated file %s cannot be opened: %v", name, err))
		return
	}
	fi, err := f.Stat()
	if got, _ := idOf(fi); err != nil || got != id || !fi.Mode().IsRegular() {
		f.Close()
		lost(fmt.Sprintf("rotated file %s changed while being opened", name))
		return
	}
	if why := verify(f, fi.Size(), pos); why != "" {
		f.Close()
		lost(fmt.Sprintf("rotated file %s does not match its saved position: %s", name, why))
		return
	}
	head, err := readHead(f, fi.Size())
	if err != nil {
		f.Close()
		lost(fmt.Sprintf("rotated file %s cannot be read: %v", name, err))
		return
	}
	o := &openFile{id: id, f: f, source: source, path: name, head: head, backlogEnd: fi.Size(),
		quietSince: s.cfg.Clock.Now(), lastSize: fi.Size()}
	o.src = fileSource{f: f, pos: pos.Offset}
	o.r = lines.NewReader(&o.src, pos.Offset, s.cfg.MaxLine)
	_ = o.tail.load(f, pos.Offset)
	s.draining = append(s.draining, o)
	s.event(Event{Kind: EventResume, Source: source, Path: name,
		Detail: fmt.Sprintf("rotated while stopped; draining it from offset %d", pos.Offset)})
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
		o.f.Close()
	}
	s.draining = nil
}
