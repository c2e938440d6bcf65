package follow

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// contentReader reads a file's content from pos: with pread for a plain
// file, so that nothing depends on the descriptor's shared seek offset,
// or through gzip for a compressed one (forward only). Every byte read is
// shown to the fingerprints.
type contentReader struct {
	f    *os.File
	zr   *gzip.Reader // nil for a plain file
	back []byte       // gzip: bytes read ahead, to be read again first
	pos  int64        // content offset of the next byte
	fp   *prints
	// guard: the plain file is a followed file itself, which may be
	// truncated at any moment, also between its check and this read.
	// Bytes read are taken only once the content before them is seen
	// unchanged after the read: its first bytes, and the bytes just
	// before them as they were read. Otherwise (an O_APPEND writer
	// refilled the file past pos) the read returns nothing and sets
	// changed, so that the content is checked again before a byte of the
	// new content is taken for the old content's continuation.
	// stopAtNUL: a guarded read that starts with a NUL byte returns errNUL
	// instead, for the same check (a writer without O_APPEND went on at
	// its old offset, leaving a hole where the content read went on).
	guard, stopAtNUL bool
	changed          bool
	last             []byte // up to MaxTailLen bytes read just before lastEnd
	lastEnd          int64
	again            []byte // the guard's buffer
}

// errNUL is what a contentReader with stopAtNUL returns at a NUL byte.
var errNUL = errors.New("a NUL byte where reading goes on")

// unread makes the last len(b) bytes read, b, be read again (gzip).
func (c *contentReader) unread(b []byte) {
	c.back = append(c.back[:0:0], b...)
	c.pos -= int64(len(b))
}

// Read implements io.Reader.
func (c *contentReader) Read(p []byte) (int, error) {
	var (
		n   int
		err error
	)
	switch {
	case len(c.back) > 0:
		n = copy(p, c.back)
		c.back = c.back[n:]
	case c.zr != nil:
		n, err = c.zr.Read(p)
	default:
		n, err = c.f.ReadAt(p, c.pos)
		if n > 0 && errors.Is(err, io.EOF) {
			err = nil
		}
		if c.guard && n > 0 {
			if c.stopAtNUL && p[0] == 0 {
				return 0, errNUL
			}
			if !c.unchanged() {
				c.changed = true
				return 0, nil // no data: the caller checks the file again
			}
			c.remember(p[:n])
		}
	}
	if n > 0 {
		c.fp.observe(c.pos, p[:n])
		c.pos += int64(n)
	}
	return n, err
}

// unchanged reports whether the file still starts with the first bytes
// known of its content, and still holds the bytes read just before pos:
// then whatever a read before this call returned at pos is that content's
// continuation (a truncation cannot be undone; a refill that rewrote the
// same bytes there is beyond what the fingerprints can tell anywhere). An
// I/O error is no evidence of a change: reading reports it.
func (c *contentReader) unchanged() bool {
	head := c.fp.head
	c.again = slices.Grow(c.again[:0], max(len(head), MaxTailLen))[:len(head)]
	if n, err := preadFull(c.f, c.again, 0); err == nil && !bytes.Equal(c.again[:n], head) {
		return false
	}
	if c.lastEnd != c.pos || len(c.last) == 0 {
		return true
	}
	b := c.again[:len(c.last)]
	n, err := preadFull(c.f, b, c.pos-int64(len(b)))
	return err != nil || bytes.Equal(b[:n], c.last)
}

// remember keeps the last bytes of p, just read at pos, for the next
// guarded read.
func (c *contentReader) remember(p []byte) {
	if c.lastEnd != c.pos {
		c.last = c.last[:0]
	}
	c.last = append(c.last, p[max(0, len(p)-MaxTailLen):]...)
	if k := len(c.last) - MaxTailLen; k > 0 {
		c.last = append(c.last[:0], c.last[k:]...)
	}
	c.lastEnd = c.pos + int64(len(p))
}

// prints are the fingerprints of the content read from a file: its first
// bytes and the sampled windows.
type prints struct {
	head []byte // the first bytes (≤ MaxHeadLen)
	sampler
	// headPre caches the hashes of the head's prefixes (prefixLens)
	// shorter than headPreOf bytes.
	headPre   []uint64
	headPreOf int
}

// prefixLens are the lengths of the content's first bytes whose hashes a
// position keeps (Position.Prefixes) when its head is longer: a copy
// shorter than the head is verified by the longest it covers.
var prefixLens = []int{16, 32, 64, 128, 256, 512}

// prefixes encodes Position.Prefixes for a head of headLen bytes and the
// first n sampled windows.
func (fp *prints) prefixes(headLen, n int) string {
	if fp.headPreOf != headLen {
		fp.headPre, fp.headPreOf = fp.headPre[:0], headLen
		for _, k := range prefixLens {
			if k < headLen && k <= len(fp.head) {
				fp.headPre = append(fp.headPre, hash64(fp.head[:k]))
			}
		}
	}
	if len(fp.headPre) == 0 && n == 0 {
		return ""
	}
	b := make([]byte, 0, 8*(len(fp.headPre)+n))
	for _, h := range fp.headPre {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	for _, h := range fp.hashes[:n] {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

func newPrints() *prints { return &prints{sampler: newSampler()} }

// observe records content bytes p found at offset off.
func (fp *prints) observe(off int64, p []byte) {
	if h := int64(len(fp.head)); off <= h && h < MaxHeadLen && off+int64(len(p)) > h {
		fp.head = append(fp.head, p[h-off:min(int64(len(p)), MaxHeadLen-off)]...)
	}
	fp.sampler.observe(off, p)
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// isGzip reports whether f's content starts with the gzip magic.
func isGzip(f *os.File) bool {
	b := make([]byte, 2)
	n, _ := preadFull(f, b, 0)
	return n == 2 && b[0] == gzipMagic[0] && b[1] == gzipMagic[1]
}

// gunzip returns a reader of f's decompressed content from its start.
func gunzip(f *os.File) (*gzip.Reader, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 64<<10))
	if err != nil {
		return nil, fmt.Errorf("gunzip %s: %w", f.Name(), err)
	}
	return zr, nil
}

// gzipSize returns the decompressed size of the gzip file f as its trailer
// says (modulo 2^32), raised by multiples of 2^32 to at least floor.
func gzipSize(f *os.File, floor int64) (int64, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 4 {
		return 0, false
	}
	b := make([]byte, 4)
	if n, err := preadFull(f, b, fi.Size()-4); err != nil || n < 4 {
		return 0, false
	}
	size := int64(binary.LittleEndian.Uint32(b))
	for size < floor {
		size += 1 << 32
	}
	return size, true
}

// headOf returns the first up to n bytes of a file's content (decompressed
// when it is gzip).
func headOf(f *os.File, n int) ([]byte, error) {
	if !isGzip(f) {
		b := make([]byte, n)
		got, err := preadFull(f, b, 0)
		return b[:got], err
	}
	zr, err := gunzip(f)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	b := make([]byte, n)
	got, err := io.ReadFull(zr, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:got], err
}
