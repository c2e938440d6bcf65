// Package state is logtally's state file: one github.com/tidwall/buntdb file
// holding stream positions, samples and totals, baselines, persistent
// classes, command locks and the output spool, with a schema version.
//
// # Atomic commits over buntdb
//
// logtally's exactly-once guarantee rests on committing, in one transaction,
// the samples of an interval and the stream positions that produced them.
// buntdb's append-only file has no transaction framing: a transaction is
// written as a run of SET/DEL commands in map order with one write(2), and on
// load every complete command is applied while a torn last command is cut
// off. A process killed in the middle of that write (SIGKILL can interrupt a
// large file write between pages) would therefore leave part of a
// transaction applied: a position without its sample, or the reverse.
//
// So every Update is journaled: the whole write set is first stored as the
// value of one key, "journal", in its own buntdb transaction — a single SET,
// which load either applies whole or drops — and then applied to the real
// keys. Open replays the journal, which is idempotent. A crash while the
// journal is written leaves the previous commit in force; a crash while the
// keys are applied is repaired by the replay. Every write goes through
// Update, so the journal always holds the latest commit and the replay never
// undoes a later write.
//
// # Keys
//
// Keys are namespaced by their owner with a '/' separator (pos/, sample/,
// total/, base/, class/, lock/, spool/, ...). The package does not interpret
// them except for the spool (spool.go) and the reserved keys "schema" and
// "journal".
package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tidwall/buntdb"
)

// SchemaVersion is the version of the layout this build writes. A file
// of an older version is upgraded when it is opened: its schema key is
// set to SchemaVersion, so that an older logtally, which would not read
// what this build may write into it, refuses it (ErrNewerSchema) rather
// than misread it. Its records are read as they are: each owner keeps
// reading its own older encodings and writes them anew when it next
// writes them.
//
// Version 2: baselines in compact pages (history's format version 7),
// which version 1 builds would read as damaged and start afresh.
const SchemaVersion = 2

const (
	keySchema  = "schema"
	keyJournal = "journal"
)

// ErrNewerSchema is returned when the state file was written by a newer
// logtally with a layout this build does not know.
var ErrNewerSchema = errors.New("state file has a newer schema")

// ErrUnusable is returned when a file is not a usable logtally state file
// (garbage, another program's file, zeros): Open moves such a file aside,
// OpenSnapshot, which only reads, refuses it.
var ErrUnusable = errors.New("not a usable logtally state file")

// ErrLocked is returned when another process holds the state file.
var ErrLocked = errors.New("state file is in use by another logtally process")

// ErrNoDir is returned when the directory of the state file does not
// exist: Open creates the file, never a directory, so that a mistyped
// path is an error rather than a new tree.
var ErrNoDir = errors.New("no such directory")

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	// NoSync skips the fsync after each commit. Only for benchmarks and
	// tests: without it a power loss can lose the last commits.
	NoSync bool
}

// Store is an open state file.
type Store struct {
	path      string
	db        *buntdb.DB
	lock      *os.File // holds the flock; nil for snapshots
	tmpDir    string   // snapshot copy to remove on Close
	movedTo   string
	log       *slog.Logger
	mu        sync.Mutex // serialises Update: journal, then apply
	seq       uint64
	snapshot  bool
	closeOnce sync.Once
}

// Open opens or creates the state file at path, taking an exclusive lock
// on path+".lock"; its directory must exist (ErrNoDir). A file that buntdb cannot load, or that has no schema
// version (garbage, another program's file, or a file of zeros, which
// buntdb would load as empty), is moved aside with a loud log message and a
// fresh one started; an existing empty file is a new state, logged.
func Open(path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if dir := filepath.Dir(path); !isDir(dir) {
		return nil, fmt.Errorf("state file %s: %w %s", path, ErrNoDir, dir)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock, log: log}
	if err := s.open(opts); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// isDir reports whether path is a directory, or may be one that cannot be
// looked at (a permission error is left to the open that follows).
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir() || err != nil && !errors.Is(err, os.ErrNotExist)
}

// CreateDir creates dir, the directory of a state file, and its parents
// when they do not exist, readable by root and its group only, as the
// package and the systemd unit make /var/lib/logtally. It reports whether
// it created dir.
func CreateDir(dir string) (bool, error) {
	if isDir(dir) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false, fmt.Errorf("create state directory: %w", err)
	}
	return true, nil
}

// OpenSnapshot opens a private copy of the state file for reading, so that
// `logtally status` can look at the file of a running daemon without
// taking its lock or writing to it. A commit that was being written while
// the copy was taken is either complete in the copy or repaired by the
// journal replay, exactly as after a crash.
func OpenSnapshot(path string) (*Store, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	defer src.Close()
	dir, err := os.MkdirTemp("", "logtally-status-")
	if err != nil {
		return nil, fmt.Errorf("snapshot state: %w", err)
	}
	dst, err := os.Create(filepath.Join(dir, "state.db"))
	if err == nil {
		_, err = io.Copy(dst, src)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("snapshot state: %w", err)
	}
	s := &Store{path: dst.Name(), tmpDir: dir, snapshot: true,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	unusable := func(cause error) error {
		return fmt.Errorf("open state %s: %w (%v): logtally run moves it aside and starts a new state", path, ErrUnusable, cause)
	}
	if cause := precheck(s.path); cause != nil {
		os.RemoveAll(dir)
		return nil, unusable(cause)
	}
	db, err := buntdb.Open(s.path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, unusable(err)
	}
	s.db = db
	if err := s.replay(); err != nil {
		s.Close()
		return nil, unusable(err)
	}
	version, found, err := s.schema()
	if err == nil && !found {
		if cause := s.notState(); cause != nil {
			err = unusable(cause)
		}
	}
	if err == nil && version > SchemaVersion {
		err = fmt.Errorf("open state %s: %w (version %d; this build knows %d)", path, ErrNewerSchema, version, SchemaVersion)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// precheck says why the file at path is not a state file, judged before
// buntdb loads it, or nil. buntdb truncates a file whose last record is
// incomplete to its last whole one, as a crash in mid-write leaves it; a
// file of another program that has no line end (a database, a compressed
// file) would be cut to nothing. So a file must begin, after the NUL bytes
// buntdb skips, with the start of a record: "*<count>\r\n". A file of
// only NUL bytes, or an empty one, passes: notState judges it.
func precheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil // empty, or zeros only
		}
		if c != 0 {
			break
		}
	}
	_ = r.UnreadByte()
	head, _ := r.Peek(24)
	i := 1
	for i < len(head) && head[i] >= '0' && head[i] <= '9' {
		i++
	}
	if head[0] == '*' && i > 1 && bytes.HasPrefix(head[i:], []byte("\r\n")) {
		return nil
	}
	return fmt.Errorf("begins with %q, not with a record: not a logtally state file", head[:min(len(head), 16)])
}

// notState says why a file without a schema version is not a state file,
// or nil for an empty one, which is a new state: it holds records (another
// program's buntdb file), or bytes that are no record (zeros, which a crash
// leaves on some filesystems, and which buntdb skips).
func (s *Store) notState() error {
	if s.count() > 0 {
		return errors.New("no schema version: not a logtally state file")
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	defer f.Close()
	var size int64
	zeros := true
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		size += int64(n)
		zeros = zeros && bytes.Count(buf[:n], []byte{0}) == n
		if err != nil {
			break
		}
	}
	switch {
	case size == 0:
		return nil
	case zeros:
		return fmt.Errorf("%d bytes of zeros, as a crash leaves on some filesystems: no record", size)
	}
	return fmt.Errorf("%d bytes without a single record: not a logtally state file", size)
}

func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (pid %s)", ErrLocked, path, strings.TrimSpace(string(pid)))
		}
		return nil, fmt.Errorf("lock state: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (s *Store) open(opts Options) error {
	_, err := os.Stat(s.path)
	created := errors.Is(err, os.ErrNotExist)
	if !created {
		if cause := precheck(s.path); cause != nil {
			if err := s.moveAside(cause); err != nil {
				return err
			}
			return s.open(opts)
		}
	}
	if created {
		f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("create state: %w", err)
		}
		f.Close()
	}
	db, err := buntdb.Open(s.path)
	if err != nil {
		if err := s.moveAside(err); err != nil {
			return err
		}
		created = true
		if db, err = buntdb.Open(s.path); err != nil {
			return fmt.Errorf("open state %s: %w", s.path, err)
		}
	}
	s.db = db
	cfg := buntdb.Config{
		SyncPolicy:           buntdb.Always,
		AutoShrinkPercentage: 100,
		AutoShrinkMinSize:    4 << 20,
	}
	if opts.NoSync {
		cfg.SyncPolicy = buntdb.Never
	}
	if err := db.SetConfig(cfg); err != nil {
		db.Close()
		return fmt.Errorf("configure state: %w", err)
	}
	if err := s.replay(); err != nil {
		db.Close()
		if err := s.moveAside(err); err != nil {
			return err
		}
		return s.open(opts)
	}
	s.compact()
	version, found, err := s.schema()
	if err != nil {
		db.Close()
		return err
	}
	var cause error
	if !found && !created {
		cause = s.notState()
	}
	switch {
	case cause != nil:
		db.Close()
		if err := s.moveAside(cause); err != nil {
			return err
		}
		return s.open(opts)
	case !found:
		if !created {
			s.log.Info("state file is empty: starting a new state", "path", s.path)
		}
		return s.Update(func(tx *Tx) error { return tx.Set(keySchema, strconv.Itoa(SchemaVersion)) })
	case version > SchemaVersion:
		db.Close()
		return fmt.Errorf("open state %s: %w (version %d; this build knows %d)", s.path, ErrNewerSchema, version, SchemaVersion)
	case version < SchemaVersion && !s.snapshot:
		// A snapshot is read as it is: every older encoding is read.
		s.log.Info("state file upgraded: older logtally versions cannot read it any more",
			"path", s.path, "from", version, "to", SchemaVersion)
		return s.Update(func(tx *Tx) error { return tx.Set(keySchema, strconv.Itoa(SchemaVersion)) })
	}
	return nil
}

// moveAside renames an unusable state file so that a fresh one can start,
// keeping the old one for inspection.
func (s *Store) moveAside(cause error) error {
	aside := fmt.Sprintf("%s.corrupt-%s", s.path, time.Now().UTC().Format("20060102T150405Z"))
	for i := 1; ; i++ {
		// Never over an earlier file moved aside in the same second.
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.corrupt-%s.%d", s.path, time.Now().UTC().Format("20060102T150405Z"), i)
	}
	if err := os.Rename(s.path, aside); err != nil {
		return fmt.Errorf("move unusable state %s aside (%v): %w", s.path, cause, err)
	}
	s.movedTo = aside
	s.log.Error("STATE FILE UNUSABLE: moved aside, starting a fresh one; positions, baselines and totals start over",
		"path", s.path, "moved_to", aside, "cause", cause)
	return nil
}

// MovedAside returns where an unusable state file was moved by Open, or "".
func (s *Store) MovedAside() string { return s.movedTo }

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) schema() (int, bool, error) {
	var v string
	err := s.db.View(func(tx *buntdb.Tx) error {
		var err error
		v, err = tx.Get(keySchema)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read state schema: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false, fmt.Errorf("read state schema %q: %w", v, err)
	}
	return n, true, nil
}

func (s *Store) count() int {
	n := 0
	_ = s.db.View(func(tx *buntdb.Tx) error {
		var err error
		n, err = tx.Len()
		return err
	})
	return n
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.db != nil {
			if !s.snapshot {
				s.compact()
			}
			err = s.db.Close()
		}
		if s.lock != nil {
			s.lock.Close()
		}
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
	})
	return err
}

// compact rewrites the file with only its live keys when it is more than
// half as large again as they are (and at least 4 MiB): buntdb reads every command of its
// file on open, so a file bloated by many commits (a learn writes each
// baseline with its journal) would cost the next Open its whole size in
// memory at once. buntdb also shrinks on its own, but only while it runs
// and long after a learn has exited. A failure only leaves the file as it
// was.
func (s *Store) compact() {
	fi, err := os.Stat(s.path)
	if err != nil || fi.Size() < shrinkJournal {
		return
	}
	var live int64
	_ = s.db.View(func(btx *buntdb.Tx) error {
		return btx.Ascend("", func(k, v string) bool {
			live += int64(len(k) + len(v) + 32) // and the command's framing
			return true
		})
	})
	if 2*fi.Size() <= 3*live {
		return
	}
	if err := s.shrink(); err != nil {
		s.log.Warn("state file not compacted", "path", s.path, "err", err)
	}
}

// shrink rewrites the file with its live keys. buntdb may be shrinking it
// already on its own, from a copy taken before the last commits (a
// journal since settled): that shrink is waited for, a while, and the
// file shrunk again.
func (s *Store) shrink() error {
	for range 500 {
		err := s.db.Shrink()
		if !errors.Is(err, buntdb.ErrShrinkInProcess) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return buntdb.ErrShrinkInProcess
}

// write is one pending change of a transaction.
type write struct {
	val string
	del bool
}

// Tx is a transaction. Reads see the transaction's own writes.
type Tx struct {
	btx      *buntdb.Tx
	writable bool
	pending  map[string]write
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *buntdb.Tx) error {
		return fn(&Tx{btx: btx})
	})
}

// Update runs fn and commits its writes atomically (see the package comment).
// If fn returns an error nothing is written.
func (s *Store) Update(fn func(tx *Tx) error) error {
	if s.snapshot {
		return errors.New("update state: snapshot is read-only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &Tx{writable: true, pending: map[string]write{}}
	err := s.db.View(func(btx *buntdb.Tx) error {
		tx.btx = btx
		return fn(tx)
	})
	tx.btx = nil
	if err != nil {
		return err
	}
	if len(tx.pending) == 0 {
		return nil
	}
	s.seq++
	journal := encodeJournal(s.seq, tx.pending)
	if err := s.db.Update(func(btx *buntdb.Tx) error {
		_, _, err := btx.Set(keyJournal, journal, nil)
		return err
	}); err != nil {
		return fmt.Errorf("commit state journal: %w", err)
	}
	if err := s.apply(tx.pending); err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	if len(journal) > maxKeptJournal {
		return s.settle(s.seq, len(journal))
	}
	return nil
}

// maxKeptJournal is the size above which an applied journal is replaced by
// an empty one: buntdb keeps every value in memory, and the journal of a
// large commit (a learn of 1000 baselines is 30 MB) would otherwise stay
// there, a second copy of what the keys hold, until the next commit.
const maxKeptJournal = 64 << 10

// shrinkJournal is the size of a journal (a learn, a first commit of many
// baselines) after which the file is rewritten with only the live keys,
// so that the next Open does not read the commit twice.
const shrinkJournal = 4 << 20

// settle replaces the journal, whose writes are applied, with an empty
// one of the same sequence number. A crash before it is written leaves
// the full journal, whose replay changes nothing. After a journal of size
// bytes or more, the file is rewritten (buntdb's Shrink, which replaces
// the file whole).
func (s *Store) settle(seq uint64, size int) error {
	err := s.db.Update(func(btx *buntdb.Tx) error {
		_, _, err := btx.Set(keyJournal, encodeJournal(seq, nil), nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("settle state journal: %w", err)
	}
	if size >= shrinkJournal {
		if err := s.shrink(); err != nil {
			return fmt.Errorf("shrink state file: %w", err)
		}
	}
	return nil
}

func (s *Store) apply(writes map[string]write) error {
	return s.db.Update(func(btx *buntdb.Tx) error {
		for k, w := range writes {
			if w.del {
				if _, err := btx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
				continue
			}
			if _, _, err := btx.Set(k, w.val, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// replay re-applies the last journaled commit; see the package comment.
func (s *Store) replay() error {
	var j string
	err := s.db.View(func(btx *buntdb.Tx) error {
		var err error
		j, err = btx.Get(keyJournal)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state journal: %w", err)
	}
	seq, writes, err := decodeJournal(j)
	if err != nil {
		return fmt.Errorf("read state journal: %w", err)
	}
	s.seq = seq
	// Only what the keys lack is written again: after a clean stop that
	// is nothing, and a large journal is not copied into buntdb's memory
	// (nor its write buffer) a second time.
	err = s.db.View(func(btx *buntdb.Tx) error {
		for k, w := range writes {
			v, err := btx.Get(k)
			switch {
			case errors.Is(err, buntdb.ErrNotFound):
				if w.del {
					delete(writes, k)
				}
			case err != nil:
				return err
			case !w.del && v == w.val:
				delete(writes, k)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if len(writes) > 0 {
		if err := s.apply(writes); err != nil {
			return err
		}
	}
	if len(j) > maxKeptJournal {
		return s.settle(seq, len(j))
	}
	return nil
}

func encodeJournal(seq uint64, writes map[string]write) string {
	keys := make([]string, 0, len(writes))
	size := 16
	for k, w := range writes {
		keys = append(keys, k)
		size += len(k) + len(w.val) + 12
	}
	sort.Strings(keys)
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		w := writes[k]
		if w.del {
			b = append(b, 'd')
		} else {
			b = append(b, 's')
		}
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(w.val)))
		b = append(b, w.val...)
	}
	return string(b)
}

var errJournal = errors.New("malformed journal")

func decodeJournal(s string) (uint64, map[string]write, error) {
	b := []byte(s)
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	str := func() (string, bool) {
		n, ok := next()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		v := string(b[:n])
		b = b[n:]
		return v, true
	}
	seq, ok := next()
	if !ok {
		return 0, nil, errJournal
	}
	n, ok := next()
	if !ok || n > uint64(len(b)) {
		return 0, nil, errJournal
	}
	writes := make(map[string]write, n)
	for i := uint64(0); i < n; i++ {
		if len(b) == 0 || (b[0] != 's' && b[0] != 'd') {
			return 0, nil, errJournal
		}
		del := b[0] == 'd'
		b = b[1:]
		k, ok1 := str()
		v, ok2 := str()
		if !ok1 || !ok2 {
			return 0, nil, errJournal
		}
		writes[k] = write{val: v, del: del}
	}
	if len(b) != 0 {
		return 0, nil, errJournal
	}
	return seq, writes, nil
}

func checkKey(key string) error {
	if key == "" || key == keyJournal || key == keySchema {
		return fmt.Errorf("state key %q is reserved", key)
	}
	return nil
}

// Get returns the value of key.
func (t *Tx) Get(key string) (string, bool, error) {
	if w, ok := t.pending[key]; ok {
		return w.val, !w.del, nil
	}
	v, err := t.btx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get %s: %w", key, err)
	}
	return v, true, nil
}

// Set sets key to value.
func (t *Tx) Set(key, value string) error {
	if !t.writable {
		return fmt.Errorf("set %s: read-only transaction", key)
	}
	if key != keySchema {
		if err := checkKey(key); err != nil {
			return err
		}
	}
	t.pending[key] = write{val: value}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (t *Tx) Delete(key string) error {
	if !t.writable {
		return fmt.Errorf("delete %s: read-only transaction", key)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	t.pending[key] = write{del: true}
	return nil
}

// GetJSON decodes the JSON value of key into v.
func (t *Tx) GetJSON(key string, v any) (bool, error) {
	s, ok, err := t.Get(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return true, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// SetJSON stores v as JSON under key.
func (t *Tx) SetJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return t.Set(key, string(b))
}

// Ascend calls fn for every key with the prefix, in key order, until fn
// returns false. It sees the transaction's own writes.
func (t *Tx) Ascend(prefix string, fn func(key, value string) bool) error {
	var mine []string
	for k := range t.pending {
		if strings.HasPrefix(k, prefix) {
			mine = append(mine, k)
		}
	}
	sort.Strings(mine)
	stopped := false
	emitPending := func(upTo string, inclusive bool) bool {
		for len(mine) > 0 && (mine[0] < upTo || inclusive && mine[0] == upTo || upTo == "") {
			k := mine[0]
			mine = mine[1:]
			if w := t.pending[k]; !w.del && !fn(k, w.val) {
				return false
			}
		}
		return true
	}
	err := t.btx.AscendGreaterOrEqual("", prefix, func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		if !emitPending(k, false) {
			stopped = true
			return false
		}
		if _, ok := t.pending[k]; ok {
			return true // overridden by this transaction; emitted with mine
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", prefix, err)
	}
	if !stopped {
		emitPending("", true)
	}
	return nil
}
