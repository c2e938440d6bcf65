package tripwire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// listing is what one walk of the watched trees found.
type listing struct {
	entries    map[string]*Entry
	root       map[string]string // path → the configured path it was listed under
	unreadable []string          // paths whose content could not be listed or stat'ed
	truncated  bool
	errs       []error
}

func (l *listing) fail(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
	}
}

// hasMeta reports whether a path is a glob.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// excluded reports whether a path matches an exclusion: a pattern with a
// slash is matched against the whole path, one without against the base
// name.
func excluded(p string, exclude []string) bool {
	for _, pat := range exclude {
		target := filepath.Base(p)
		if strings.Contains(pat, "/") {
			target = p
		}
		if ok, _ := filepath.Match(pat, target); ok {
			return true
		}
	}
	return false
}

// excludedWithin reports whether p or one of its ancestors is excluded.
func excludedWithin(p string, exclude []string) bool {
	for q := p; ; q = filepath.Dir(q) {
		if excluded(q, exclude) {
			return true
		}
		if q == "/" || q == "." {
			return false
		}
	}
}

// covers reports whether the configured path pat covers p: p or one of its
// ancestors is pat, or matches it when pat is a glob.
func covers(pat, p string) bool {
	for q := p; ; q = filepath.Dir(q) {
		if q == pat {
			return true
		}
		if hasMeta(pat) {
			if ok, _ := filepath.Match(pat, q); ok {
				return true
			}
		}
		if q == "/" || q == "." {
			return false
		}
	}
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// entryOf builds the entry of an lstat result.
func entryOf(path string, fi fs.FileInfo) *Entry {
	e := &Entry{Mode: uint32(fi.Mode().Perm()), Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if fi.Mode()&fs.ModeSetuid != 0 {
		e.Mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		e.Mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		e.Mode |= 0o1000
	}
	switch {
	case fi.Mode().IsRegular():
		e.Type = TypeFile
	case fi.IsDir():
		e.Type = TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = TypeSymlink
		if t, err := os.Readlink(path); err == nil {
			e.Target = t
		}
	default:
		e.Type = TypeOther
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.UID, e.GID = st.Uid, st.Gid
		e.Sig = Sig{Size: st.Size, Mtime: fi.ModTime().UnixNano(), Ctime: st.Ctim.Nano(), Ino: st.Ino, Dev: uint64(st.Dev)}
	}
	return e
}

// list walks the watched trees, never following a symbolic link.
func (w *Watcher) list() *listing {
	l := &listing{entries: map[string]*Entry{}, root: map[string]string{}}
	max := w.cfg.MaxFiles
	if max <= 0 {
		max = DefaultMaxFiles
	}
	for _, pat := range w.cfg.Paths {
		roots := []string{pat}
		if hasMeta(pat) {
			m, err := filepath.Glob(pat)
			if err != nil {
				l.fail(fmt.Errorf("glob %s: %w", pat, err))
				continue
			}
			roots = m
		}
		for _, root := range roots {
			if l.truncated {
				return l
			}
			root = filepath.Clean(root)
			if excludedWithin(root, w.cfg.Exclude) {
				continue
			}
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					if p == root && errors.Is(err, fs.ErrNotExist) {
						return nil // nothing there (yet)
					}
					l.unreadable = append(l.unreadable, p)
					l.fail(fmt.Errorf("list %w", err))
					if d != nil && d.IsDir() {
						return fs.SkipDir
					}
					return nil
				}
				if p != root && excluded(p, w.cfg.Exclude) {
					if d.IsDir() {
						return fs.SkipDir
					}
					return nil
				}
				if _, dup := l.entries[p]; dup { // overlapping paths: listed whole already
					if d.IsDir() {
						return fs.SkipDir
					}
					return nil
				}
				if len(l.entries) >= max {
					l.truncated = true
					return fs.SkipAll
				}
				fi, err := d.Info() // lstat
				if err != nil {
					if !errors.Is(err, fs.ErrNotExist) {
						l.unreadable = append(l.unreadable, p)
						l.fail(fmt.Errorf("stat %w", err))
					}
					return nil
				}
				l.entries[p] = entryOf(p, fi)
				l.root[p] = pat
				return nil
			})
			if err != nil {
				l.fail(fmt.Errorf("list %s: %w", root, err))
			}
		}
	}
	return l
}
