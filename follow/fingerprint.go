package follow

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
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

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hash64 is the fingerprint hash (FNV-1a, stable across processes and
// versions).
func hash64(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// hashMore continues the FNV-1a hash h with the 8 little-endian bytes of v.
func hashMore(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * fnvPrime
		v >>= 8
	}
	return h
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

// Sampled fingerprints. A file's content is sampled in windows of
// SampleLen bytes at every multiple of a stride (stride, 2·stride, ...);
// the stride, a power of two of at least minStride, doubles as the content
// grows, so that between maxSamples/2 and maxSamples windows spread over
// the whole of it. A window, once read, never moves: doubling the stride
// keeps every other window. Together with the head and the tail they make
// a rewrite that keeps the first bytes and the bytes before the offset
// differ somewhere, for the price of a few reads of 64 bytes.
const (
	// SampleLen is the length of a sampled window.
	SampleLen  = 64
	maxSamples = 16
	minStride  = MaxHeadLen
)

// sampler keeps the hashes of the sampled windows of content read from
// its start, in order and without gaps.
type sampler struct {
	stride int64
	hashes []uint64 // hashes[i] is the window at (i+1)·stride
	prefix []uint64 // prefix[i] is combine(hashes[:i+1])
	part   []byte   // the bytes read so far of the window being read
	end    int64    // content seen: [0, end)
	broken bool     // a gap in what was seen: no more windows
}

func newSampler() sampler { return sampler{stride: minStride} }

// observe records the content bytes p, found at offset off. Bytes already
// seen are skipped; a gap stops the sampling (it cannot happen when reading
// forward from where fill left off).
func (s *sampler) observe(off int64, p []byte) {
	if s.broken || off+int64(len(p)) <= s.end {
		return
	}
	if off > s.end {
		s.broken = true
		return
	}
	p = p[s.end-off:]
	for len(p) > 0 {
		if start := int64(len(s.hashes)+1) * s.stride; s.end < start {
			skip := min(int64(len(p)), start-s.end)
			p = p[skip:]
			s.end += skip
			continue
		}
		take := min(len(p), SampleLen-len(s.part))
		s.part = append(s.part, p[:take]...)
		p = p[take:]
		s.end += int64(take)
		if len(s.part) == SampleLen {
			s.add(hash64(s.part))
			s.part = s.part[:0]
			s.shrink()
		}
	}
}

// add appends the hash of the next window.
func (s *sampler) add(h uint64) {
	c := uint64(fnvOffset)
	if n := len(s.prefix); n > 0 {
		c = s.prefix[n-1]
	}
	s.hashes = append(s.hashes, h)
	s.prefix = append(s.prefix, hashMore(c, h))
}

// shrink doubles the stride while there are too many windows.
func (s *sampler) shrink() {
	for len(s.hashes) > maxSamples {
		old := s.hashes
		s.hashes, s.prefix = nil, s.prefix[:0]
		for i := 1; i < len(old); i += 2 {
			s.add(old[i])
		}
		s.stride *= 2
	}
}

// fill sets the sampler to the content [0, off) of f, reading the windows
// it needs, as if it had been read from the start.
func (s *sampler) fill(f *os.File, off int64) error {
	*s = newSampler()
	for off/s.stride > maxSamples {
		s.stride *= 2
	}
	buf := make([]byte, SampleLen)
	for k := int64(1); k*s.stride < off; k++ {
		w := k * s.stride
		n := min(int64(SampleLen), off-w)
		got, err := preadFull(f, buf[:n], w)
		if err != nil || int64(got) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			*s = newSampler()
			return err
		}
		if n < SampleLen {
			s.part = append(s.part[:0], buf[:n]...)
			break
		}
		s.add(hash64(buf))
	}
	s.end = off
	return nil
}

// upTo returns the windows that end at or before off: their stride,
// number and combined hash.
func (s *sampler) upTo(off int64) (stride int64, n int, h uint64) {
	if s.broken || off < s.stride+SampleLen {
		return 0, 0, 0
	}
	n = int(min(int64(len(s.hashes)), (off-SampleLen)/s.stride))
	if n == 0 {
		return 0, 0, 0
	}
	return s.stride, n, s.prefix[n-1]
}

// combine hashes window hashes into one: FNV-1a of their little-endian
// bytes.
func combine(hs []uint64) uint64 {
	h := uint64(fnvOffset)
	for _, v := range hs {
		h = hashMore(h, v)
	}
	return h
}

// region is a range of content bytes a fingerprint covers.
type region struct {
	off int64
	n   int
}

// regions returns the ranges the fingerprints of p cover: head, sampled
// windows, tail, in that order.
func (p Position) regions() []region {
	r := []region{{0, p.HeadLen}}
	for i := 0; i < p.SampleCount; i++ {
		r = append(r, region{int64(i+1) * p.SampleStride, SampleLen})
	}
	return append(r, region{p.Offset - int64(p.TailLen), p.TailLen})
}

// invalid says why a saved position cannot describe any content, or "".
func (p Position) invalid() string {
	if p.Offset < 0 || p.HeadLen < 0 || p.HeadLen > MaxHeadLen || p.TailLen < 0 ||
		p.TailLen > MaxTailLen || int64(p.TailLen) > p.Offset || p.SampleCount < 0 ||
		p.SampleCount > maxSamples || p.SampleCount > 0 &&
		(p.SampleStride < minStride || int64(p.SampleCount)*p.SampleStride+SampleLen > p.Offset) {
		return fmt.Sprintf("saved position is invalid (offset %d, head %d bytes, tail %d bytes, %d samples every %d bytes)",
			p.Offset, p.HeadLen, p.TailLen, p.SampleCount, p.SampleStride)
	}
	return ""
}

// prefix returns a position that describes the first n bytes (0 < n <
// p.Offset) of the content p describes, from what p keeps of them
// (Prefixes): the head, or the longest of its prefixes that n covers, and
// the sampled windows that end by n. ok is false when p keeps nothing of
// them (a position saved by an earlier version, or n below the shortest
// prefix kept).
func (p Position) prefix(n int64) (q Position, ok bool) {
	if p.invalid() != "" || n <= 0 || n >= p.Offset || p.Prefixes == "" {
		return Position{}, false
	}
	b, err := base64.RawStdEncoding.DecodeString(p.Prefixes)
	if err != nil || len(b)%8 != 0 {
		return Position{}, false
	}
	hs := make([]uint64, len(b)/8)
	for i := range hs {
		hs[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	var heads []int // the prefix lengths kept, in hs's order
	for _, k := range prefixLens {
		if k < p.HeadLen {
			heads = append(heads, k)
		}
	}
	if len(hs) != len(heads)+p.SampleCount {
		return Position{}, false
	}
	q = Position{Path: p.Path, Offset: n, HeadLen: p.HeadLen, HeadHash: p.HeadHash, TailHash: hash64(nil)}
	if n < int64(p.HeadLen) {
		i := len(heads) - 1
		for i >= 0 && int64(heads[i]) > n {
			i--
		}
		if i < 0 {
			return Position{}, false
		}
		q.HeadLen, q.HeadHash = heads[i], hs[i]
	}
	windows := hs[len(heads):]
	k := 0
	for k < len(windows) && int64(k+1)*p.SampleStride+SampleLen <= n {
		k++
	}
	if k > 0 {
		q.SampleStride, q.SampleCount, q.SampleHash = p.SampleStride, k, combine(windows[:k])
	}
	return q, true
}

// compare checks the bytes of p's regions (as returned by regions) against
// its fingerprints. It returns why they differ, or "".
func (p Position) compare(got [][]byte) string {
	if hash64(got[0]) != p.HeadHash {
		return fmt.Sprintf("its first %d bytes changed (rewritten)", p.HeadLen)
	}
	if p.SampleCount > 0 {
		hs := make([]uint64, p.SampleCount)
		for i := range hs {
			hs[i] = hash64(got[1+i])
		}
		if combine(hs) != p.SampleHash {
			return fmt.Sprintf("bytes sampled every %d bytes before offset %d changed (rewritten)", p.SampleStride, p.Offset)
		}
	}
	if hash64(got[len(got)-1]) != p.TailHash {
		return fmt.Sprintf("the %d bytes before offset %d changed (rewritten)", p.TailLen, p.Offset)
	}
	return ""
}

// verify checks that a saved position still describes the plain file f,
// whose size is size, in the manner of litestream's verify: the file must
// be at least as long as the saved offset, and every fingerprint must
// match. It returns why the position cannot be used, or "" when it can.
func verify(f *os.File, size int64, p Position) string {
	if why := p.invalid(); why != "" {
		return why
	}
	switch {
	case size < p.Offset:
		return fmt.Sprintf("file is %d bytes, shorter than the saved offset %d (truncated)", size, p.Offset)
	case size < int64(p.HeadLen):
		return fmt.Sprintf("file is %d bytes, shorter than its saved first %d bytes (truncated)", size, p.HeadLen)
	}
	regs := p.regions()
	got := make([][]byte, len(regs))
	for i, r := range regs {
		got[i] = make([]byte, r.n)
		if n, err := preadFull(f, got[i], r.off); err != nil || n < r.n {
			return fmt.Sprintf("cannot read %d bytes at offset %d: %v", r.n, r.off, err)
		}
	}
	return p.compare(got)
}

// verifyStream reads a content stream r (a decompressed file) from its
// start to p.Offset, or to the end of p's head when that is further, and
// checks it against p as verify does. It returns why the position cannot
// be used, or "" when it can; then also the up to MaxTailLen bytes just
// before p.Offset, and the bytes read past p.Offset (to be read again).
func verifyStream(r io.Reader, p Position) (why string, tail, extra []byte) {
	if why := p.invalid(); why != "" {
		return why, nil, nil
	}
	regs := append(p.regions(), region{max(0, p.Offset-MaxTailLen), int(min(p.Offset, MaxTailLen))},
		region{p.Offset, max(0, p.HeadLen-int(p.Offset))})
	got := make([][]byte, len(regs))
	end := max(p.Offset, int64(p.HeadLen))
	buf := make([]byte, 32<<10)
	var pos int64
	for pos < end {
		n, err := r.Read(buf[:min(int64(len(buf)), end-pos)])
		for i, rg := range regs {
			lo, hi := max(rg.off, pos), min(rg.off+int64(rg.n), pos+int64(n))
			if lo < hi {
				got[i] = append(got[i], buf[lo-pos:hi-pos]...)
			}
		}
		pos += int64(n)
		if err != nil && pos < end {
			if !errors.Is(err, io.EOF) {
				return fmt.Sprintf("cannot read it to offset %d: %v", end, err), nil, nil
			}
			if pos < p.Offset {
				return fmt.Sprintf("content is %d bytes, shorter than the saved offset %d", pos, p.Offset), nil, nil
			}
			return fmt.Sprintf("content is %d bytes, shorter than its saved first %d bytes", pos, p.HeadLen), nil, nil
		}
	}
	k := len(regs) - 2
	if why := p.compare(got[:k]); why != "" {
		return why, nil, nil
	}
	return "", got[k], got[k+1]
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
