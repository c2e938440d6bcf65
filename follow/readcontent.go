package follow

import (
	"bytes"
	"io"
	"os"
	"slices"
)

// A content print tells a content read whole from another one: its size,
// the hash of its first MaxHeadLen bytes and of its last tailPrintLen
// bytes, decompressed when the file is gzip. It identifies a content
// whatever file holds it, so that a compressed twin of a copy already read
// (logrotate's compress after copytruncate: log.1 read, then log.1.gz in
// its place between two looks) is not taken for a new copy and read again.
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

// rememberRead records the content of o, read whole to its end. Only a
// plain file can have a compressed twin to come, so a gzip file (whose
// print would mean decompressing it a second time) is not recorded.
func (s *scanner) rememberRead(o *openFile) {
	if o.gz {
		return
	}
	p, ok := printOf(o.f)
	if !ok || p.size == 0 {
		return
	}
	s.readPrints = append(s.readPrints, p)
	if len(s.readPrints) > maxReadPrints {
		s.readPrints = s.readPrints[1:]
	}
}

// readBefore reports whether f holds a content already read whole.
func (s *scanner) readBefore(f *os.File) bool {
	if len(s.readPrints) == 0 {
		return false
	}
	p, ok := printOf(f)
	if !ok || p.size == 0 {
		return false
	}
	for _, q := range s.readPrints {
		if q == p {
			return true
		}
	}
	return false
}

// dropRead removes from copies the files that hold a content already read
// whole: a copy read at a truncation and compressed since is no new copy.
func (s *scanner) dropRead(copies []unseenFile) []unseenFile {
	if len(s.readPrints) == 0 {
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

// ofCurrent reports whether the plain file at path holds what the current
// file of the followed name base starts with now: a copy that
// copytruncate made and has not truncated after yet (logrotate is between
// the two), taken for a copy of content truncated away. Its lines are
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
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 || isGzip(f) {
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
