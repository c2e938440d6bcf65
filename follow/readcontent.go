package follow

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
)

// A content print tells a content read whole from another one: its size,
// the hash of its first MaxHeadLen bytes and of its last tailPrintLen
// bytes, decompressed when the file is gzip. It identifies a content
// whatever file holds it, so that a compressed twin of a content already
// read is not taken for a new copy and read again: of a copy (logrotate's
// compress after copytruncate: log.1 read, then log.1.gz in its place
// between two looks), or of a rotated-away file drained to its end
// (create and compress: log renamed to log.1 and drained, then log.1.gz
// in its place). The files still being drained are compared as they are
// now, so that a twin that appears before its plain file is closed is
// known too.
type contentPrint struct {
	size       int64
	head, tail uint64
}

// tailPrintLen is how many bytes at a content's end its print hashes.
const tailPrintLen = 4096

// maxReadPrints bounds the contents remembered as read whole.
const maxReadPrints = 16

// printOf computes f's content print (reading a gzip file through).
func printOf(f *os.File) (contentPrint, bool) {
	head, err := headOf(f, MaxHeadLen)
	if err != nil {
		return contentPrint{}, false
	}
	p := contentPrint{head: hash64(head)}
	if !isGzip(f) {
		fi, err := f.Stat()
		if err != nil {
			return contentPrint{}, false
		}
		p.size = fi.Size()
		tail := make([]byte, min(p.size, tailPrintLen))
		if n, err := preadFull(f, tail, p.size-int64(len(tail))); err != nil || n < len(tail) {
			return contentPrint{}, false
		}
		p.tail = hash64(tail)
		return p, true
	}
	zr, err := gunzip(f)
	if err != nil {
		return contentPrint{}, false
	}
	defer zr.Close()
	ring := make([]byte, 2*tailPrintLen)
	var n int64
	keep := 0
	for {
		if keep == len(ring) {
			copy(ring, ring[tailPrintLen:])
			keep = tailPrintLen
		}
		m, err := zr.Read(ring[keep:])
		keep += m
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return contentPrint{}, false
		}
	}
	p.size = n
	p.tail = hash64(ring[max(0, keep-tailPrintLen):keep])
	return p, true
}

// rememberRead records the content of o, read to its end: a complete
// file, or a rotated-away one drained and closed. Only a plain file can
// have a compressed twin to come, so a gzip file (whose print would mean
// decompressing it a second time) is not recorded; nor is a file that
// holds more than was read of it (it grew after the last read). It
// returns the print of o's content when o is plain and was read whole
// (an empty content included).
func (s *scanner) rememberRead(o *openFile) (contentPrint, bool) {
	if o.gz {
		return contentPrint{}, false
	}
	p, ok := printOf(o.f)
	if !ok || p.size != o.r.Offset() {
		return contentPrint{}, false
	}
	if p.size > 0 {
		s.readPrints = append(s.readPrints, p)
		if len(s.readPrints) > maxReadPrints {
			s.readPrints = s.readPrints[1:]
		}
	}
	return p, true
}

// readBefore reports whether f holds a content already read whole, or
// that of a plain file being drained.
func (s *scanner) readBefore(f *os.File) bool {
	if len(s.readPrints) == 0 && !slices.ContainsFunc(s.draining, isPlain) {
		return false
	}
	p, ok := printOf(f)
	if !ok || p.size == 0 {
		return false
	}
	if slices.Contains(s.readPrints, p) {
		return true
	}
	for _, d := range s.draining {
		if isPlain(d) && d.id != idOfFile(f) {
			if q, ok := printOf(d.f); ok && q == p {
				return true
			}
		}
	}
	return false
}

// isPlain reports whether o is read as a plain file, not through gzip.
func isPlain(o *openFile) bool { return !o.gz }

// idOfFile returns the identity of the open file f (zero when it cannot
// be had).
func idOfFile(f *os.File) fileID {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}
	}
	id, _ := idOf(fi)
	return id
}

// dropRead removes from copies the files that hold a content already read
// whole: a copy read at a truncation and compressed since is no new copy.
func (s *scanner) dropRead(copies []unseenFile) []unseenFile {
	if len(s.readPrints) == 0 && !slices.ContainsFunc(s.draining, isPlain) {
		return copies
	}
	return slices.DeleteFunc(copies, func(c unseenFile) bool {
		f, _, err := openID(c.path, c.id)
		if err != nil {
			return false // readWhole reports it
		}
		defer f.Close()
		return s.readBefore(f)
	})
}

// ofCurrent reports whether the file at path holds what the current file
// of the followed name base starts with now: a copy that copytruncate
// made and has not truncated after yet (logrotate is between the two),
// or the current file itself compressed (create and compress: the file
// being read was renamed, compressed and unlinked since the name was
// looked at; it is read to its end when the name is seen replaced), taken
// for a copy of content truncated away. Its lines are
// read from the file itself, and its truncation, when it comes, finds the
// copy again (findContent, findRead); read whole now, they would be read
// twice. The first bytes, a window at the middle and the bytes at the
// copy's end are compared, so that the hole a writer without O_APPEND
// leaves at the start of each content does not make a copy of old content
// look like one of the current content.
func (s *scanner) ofCurrent(base, path string) bool {
	t := s.tracked[base]
	if t == nil || t.cur == nil || t.cur.gz {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if isGzip(f) {
		return gzipPrefixOf(f, t.cur.f)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	cur, err := t.cur.f.Stat()
	if err != nil || cur.Size() < fi.Size() {
		return false
	}
	size := fi.Size()
	a, b := make([]byte, MaxHeadLen), make([]byte, MaxHeadLen)
	for _, r := range []region{
		{0, int(min(size, MaxHeadLen))},
		{size/2 - min(size/2, SampleLen/2), int(min(size, SampleLen))},
		{size - min(size, MaxTailLen), int(min(size, MaxTailLen))},
	} {
		na, errA := preadFull(f, a[:r.n], r.off)
		nb, errB := preadFull(t.cur.f, b[:r.n], r.off)
		if errA != nil || errB != nil || na != r.n || nb != r.n || !bytes.Equal(a[:r.n], b[:r.n]) {
			return false
		}
	}
	return true
}

// gzipPrefixOf reports whether the decompressed content of the gzip file
// zf is not empty and is a prefix of the plain file cur as it is now.
func gzipPrefixOf(zf, cur *os.File) bool {
	zr, err := gunzip(zf)
	if err != nil {
		return false
	}
	defer zr.Close()
	a, b := make([]byte, 32<<10), make([]byte, 32<<10)
	var at int64
	for {
		n, err := io.ReadFull(zr, a)
		if n > 0 {
			if m, _ := preadFull(cur, b[:n], at); m != n || !bytes.Equal(a[:n], b[:n]) {
				return false
			}
			at += int64(n)
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return at > 0
		case err != nil:
			return false
		}
	}
}

// findTwin returns the newest file of base's rotated set, of those not in
// skip, whose content has the print p (decompressed when it is gzip): a
// file read whole, as logrotate compressed it.
func findTwin(base string, p contentPrint, skip map[fileID]bool) (found unseenFile, ok bool) {
	eachCandidate(base, skip, func(f *os.File, fi os.FileInfo, id fileID, path string) bool {
		if ok {
			return false
		}
		if isGzip(f) {
			if n, good := gzipSize(f, 0); !good || uint32(n) != uint32(p.size) {
				return false
			}
		} else if fi.Size() != p.size {
			return false
		}
		if q, good := printOf(f); good && q == p {
			found, ok = unseenFile{path: path, id: id}, true
		}
		return false
	})
	return found, ok
}
