package follow

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// fileID is a file's identity: its device and inode.
type fileID struct{ dev, ino uint64 }

func (id fileID) String() string { return fmt.Sprintf("dev %d inode %d", id.dev, id.ino) }

// idOf returns the identity in fi, which must come from os.Stat, os.Lstat
// or File.Stat.
func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, true
}

// nlinkOf returns the number of names fi's file has (0 once unlinked).
func nlinkOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// hash64 is the fingerprint hash (FNV-1a, stable across processes and
// versions).
func hash64(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// preadFull reads len(buf) bytes at off. It returns the number of bytes
// read, short only at the end of the file.
func preadFull(f *os.File, buf []byte, off int64) (int, error) {
	n, err := f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// readHead returns the first min(size, MaxHeadLen) bytes of f.
func readHead(f *os.File, size int64) ([]byte, error) {
	n := int64(MaxHeadLen)
	if size < n {
		n = size
	}
	buf := make([]byte, n)
	got, err := preadFull(f, buf, 0)
	return buf[:got], err
}

// readBefore returns up to max bytes of f just before off.
func readBefore(f *os.File, off int64, max int) ([]byte, error) {
	n := int64(max)
	if off < n {
		n = off
	}
	buf := make([]byte, n)
	got, err := preadFull(f, buf, off-n)
	if err == nil && int64(got) < n {
		err = io.ErrUnexpectedEOF
	}
	return buf[:got], err
}

// verify checks that a saved position still describes f, whose size is
// size, in the manner of litestream's verify: the file must be at least as
// long as the saved offset, and both fingerprints must match. It returns
// why the position cannot be used, or "" when it can.
func verify(f *os.File, size int64, p Position) string {
	switch {
	case p.Offset < 0 || p.HeadLen < 0 || p.HeadLen > MaxHeadLen ||
		p.TailLen < 0 || p.TailLen > MaxTailLen || int64(p.TailLen) > p.Offset:
		return fmt.Sprintf("saved position is invalid (offset %d, head %d bytes, tail %d bytes)",
			p.Offset, p.HeadLen, p.TailLen)
	case size < p.Offset:
		return fmt.Sprintf("file is %d bytes, shorter than the saved offset %d (truncated)", size, p.Offset)
	case size < int64(p.HeadLen):
		return fmt.Sprintf("file is %d bytes, shorter than its saved first %d bytes (truncated)", size, p.HeadLen)
	}
	head := make([]byte, p.HeadLen)
	if n, err := preadFull(f, head, 0); err != nil || n < p.HeadLen {
		return fmt.Sprintf("cannot read its first %d bytes: %v", p.HeadLen, err)
	}
	if hash64(head) != p.HeadHash {
		return fmt.Sprintf("its first %d bytes changed (rewritten)", p.HeadLen)
	}
	tail, err := readBefore(f, p.Offset, p.TailLen)
	if err != nil {
		return fmt.Sprintf("cannot read the %d bytes before offset %d: %v", p.TailLen, p.Offset, err)
	}
	if hash64(tail) != p.TailHash {
		return fmt.Sprintf("the %d bytes before offset %d changed (rewritten)", p.TailLen, p.Offset)
	}
	return ""
}

// lineStart returns the offset just after the last '\n' before off,
// looking back at most max bytes: where to start reading "from the end"
// so that a line being written is delivered whole. When no newline is
// found within max bytes, off is returned (the partial line is skipped);
// when the file start is reached without one, 0.
func lineStart(f *os.File, off int64, max int) int64 {
	const chunk = 4096
	buf := make([]byte, chunk)
	pos := off
	for pos > 0 && off-pos < int64(max) {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		got, err := preadFull(f, buf[:n], pos-n)
		if err != nil || int64(got) < n {
			return off
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos - n + int64(i) + 1
		}
		pos -= n
	}
	if pos == 0 {
		return 0
	}
	return off
}

// findByID looks among the entries of dir for a regular file with identity
// id and returns its path.
func findByID(dir string, id fileID) (string, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if got, ok := idOf(fi); ok && got == id {
			return p, true
		}
	}
	return "", false
}

// tailWindow keeps the last MaxTailLen bytes of the stream before the
// reader's offset, rebuilt from the lines delivered. When a line was cut
// its last bytes are unknown, and the window is re-read from the file when
// next needed.
type tailWindow struct {
	b     []byte
	known bool
}

// push records a line that consumed n stream bytes. final says the line
// came from Reader.Final (no '\n').
func (w *tailWindow) push(data []byte, cut, final bool, n int64) {
	extra := n - int64(len(data))
	var suffix string
	switch {
	case cut:
		w.known = false
		return
	case !final && extra == 1:
		suffix = "\n"
	case !final && extra == 2:
		suffix = "\r\n"
	case final && extra == 0:
	case final && extra == 1:
		suffix = "\r"
	default:
		w.known = false
		return
	}
	if !w.known {
		return
	}
	w.b = append(w.b, data[max(0, len(data)-MaxTailLen):]...)
	w.b = append(w.b, suffix...)
	if len(w.b) > MaxTailLen {
		w.b = append(w.b[:0], w.b[len(w.b)-MaxTailLen:]...)
	}
}

// load sets the window from the file: the bytes just before off.
func (w *tailWindow) load(f *os.File, off int64) error {
	b, err := readBefore(f, off, MaxTailLen)
	if err != nil {
		w.b, w.known = w.b[:0], false
		return err
	}
	w.b = append(w.b[:0], b...)
	w.known = true
	return nil
}

// ensure makes the window known, reading it from f if needed.
func (w *tailWindow) ensure(f *os.File, off int64) error {
	if w.known {
		return nil
	}
	return w.load(f, off)
}
