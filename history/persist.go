package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// pageSlots is the number of slots in one persisted page. The state file
// keeps every page in memory as an item of its own, whose overhead (its
// key, its record) is about 100 bytes: pages of 64 slots (768 bytes)
// spend an eighth of what they hold on it, where pages of 16 spent half;
// a learned interval then rewrites 768 bytes of a measurement's slots
// besides its meta (about 940).
const pageSlots = 64

// oldPageSlots is the number of slots of the pages written before: Decode
// reads them, and the baseline's pages are then all written again, in
// pages of pageSlots, at the next Encode.
const oldPageSlots = 16

// slotBytes is the size of one slot in the flat pages of versions before
// 7: float32 n, m and q.
const slotBytes = 12

// maskBytes is the size of the head of a compact page (version 7 on): one
// 64-bit mask per field of the slot (n, m, q), whose bit k is set when
// slot k's value of the field differs from slot k-1's (from 0 for slot
// 0). The float32 values of the set bits follow, field after field.
//
// A slot's field repeats its neighbour's wherever the series gives it
// nothing new to learn: a measurement whose lines never come learns
// zeros, every slot of a page seen as often has the same n, and a
// learned page of such a series takes 24 bytes instead of 768. The
// baseline of a busy series costs as before (its m and q change from slot
// to slot), plus the masks; a slot is still read in place (three
// population counts), without decoding the page.
const maskBytes = 3 * 8

// formatVersion is the version of the encoding written by Encode. Decode
// also reads version 2 (before the slow run statistic): its records are
// taken over and the slow evidence starts empty; version 3 (before the
// range of values learned): the range is taken from the slots; version 4
// (before the anomaly episodes): no episode is under way; version 5
// (before the alarm memory per source): no source has an alarm to
// remember; and version 6 (before compact pages): its flat pages are
// encoded again, every page to be written at the next Encode.
const formatVersion = 7

// compactVersion is the first format version of compact pages.
const compactVersion = 7

// nTailsV2 is the number of evidence records in a version 2 encoding.
const nTailsV2 = 4

var metaMagic = [4]byte{'L', 'T', 'H', 'B'}

// ErrConfigChanged is returned by Decode when the stored baseline was
// learned with a different interval, time zone or kind: its slots do not
// mean the same thing any more. The caller starts a new baseline (New).
var ErrConfigChanged = errors.New("baseline learned with another configuration")

// Pages returns the number of pages of the baseline.
func (b *Baseline) Pages() int { return len(b.pages) }

// slot returns slot i.
func (b *Baseline) slot(i int) slot {
	p := i / pageSlots
	if b.open != nil && b.open[p] != nil {
		return b.open[p][i-p*pageSlots]
	}
	return pageSlot(b.pages[p], i-p*pageSlots)
}

// pageSlot returns slot k of a compact page ("" is a page without data).
func pageSlot(page string, k int) slot {
	if page == "" {
		return slot{}
	}
	upTo := uint64(2)<<k - 1 // bits 0 to k (all of them for k = 63)
	var s slot
	o := maskBytes
	for f, v := range [3]*float32{&s.N, &s.M, &s.Q} {
		m := uint64At(page, 8*f)
		if n := bits.OnesCount64(m & upTo); n > 0 {
			*v = float32At(page, o+4*(n-1))
		}
		o += 4 * bits.OnesCount64(m)
	}
	return s
}

// encodePage returns the compact page of slots.
func encodePage(slots []slot) string {
	var masks [3]uint64
	var vals [3][]float32
	var prev slot
	for k, s := range slots {
		for f, v := range [3][2]float32{{s.N, prev.N}, {s.M, prev.M}, {s.Q, prev.Q}} {
			if math.Float32bits(v[0]) != math.Float32bits(v[1]) {
				masks[f] |= 1 << k
				vals[f] = append(vals[f], v[0])
			}
		}
		prev = s
	}
	buf := make([]byte, 0, maskBytes+4*(len(vals[0])+len(vals[1])+len(vals[2])))
	for _, m := range masks {
		buf = binary.LittleEndian.AppendUint64(buf, m)
	}
	for _, vs := range vals {
		for _, v := range vs {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return string(buf)
}

// uint64At decodes the little-endian uint64 at s[o:].
func uint64At(s string, o int) uint64 {
	return uint64(s[o]) | uint64(s[o+1])<<8 | uint64(s[o+2])<<16 | uint64(s[o+3])<<24 |
		uint64(s[o+4])<<32 | uint64(s[o+5])<<40 | uint64(s[o+6])<<48 | uint64(s[o+7])<<56
}

// float32At decodes the little-endian float32 at s[o:].
func float32At(s string, o int) float32 {
	return math.Float32frombits(uint32(s[o]) | uint32(s[o+1])<<8 | uint32(s[o+2])<<16 | uint32(s[o+3])<<24)
}

// change returns slot i to be changed: its page is decoded into open, and
// marked dirty, until the next Encode.
func (b *Baseline) change(i int) *slot {
	p := i / pageSlots
	if b.open == nil {
		b.open = make([][]slot, len(b.pages))
	}
	if b.open[p] == nil {
		lo, hi := b.pageRange(p)
		page := make([]slot, hi-lo)
		for k := range page {
			page[k] = b.slot(lo + k)
		}
		b.open[p] = page
	}
	b.dirty[p] = true
	return &b.open[p][i-p*pageSlots]
}

// Encode serialises the baseline: meta is the whole-series state (always
// returned, about 940 bytes), pages the slot pages keyed by page number
// (pageSlots slots each, compact: maskBytes). With dirtyOnly, only the
// pages changed since the previous Encode are returned — one page per
// learned interval — otherwise every page that holds learned data. Encode
// clears the dirty marks. The baseline keeps the strings it returns as its
// slots: stored as they are, they are the one copy of them in memory.
func (b *Baseline) Encode(dirtyOnly bool) (meta []byte, pages map[int]string) {
	meta = b.encodeMeta(formatVersion)
	pages = make(map[int]string)
	for p := range b.pages {
		if b.dirty[p] {
			if b.open != nil && b.open[p] != nil {
				b.pages[p] = encodePage(b.open[p])
			}
		} else if dirtyOnly || !b.pageUsed(p) {
			continue
		}
		pages[p] = b.pages[p]
	}
	clear(b.dirty)
	b.open = nil
	b.metaOK = true
	return meta, pages
}

func (b *Baseline) pageRange(p int) (int, int) {
	lo := p * pageSlots
	hi := lo + pageSlots
	if hi > b.nslots {
		hi = b.nslots
	}
	return lo, hi
}

// pageUsed reports whether page p holds learned data.
func (b *Baseline) pageUsed(p int) bool {
	lo, hi := b.pageRange(p)
	for i := lo; i < hi; i++ {
		if b.slot(i).N > 0 {
			return true
		}
	}
	return false
}

// metaFloats lists the whole-series fields in their encoded order for a
// format version. The calibrated levels of the records (Q2, Q3) are not
// encoded from version 3 on: Decode recomputes them from the records.
func (b *Baseline) metaFloats(version byte) []*float64 {
	g := &b.g
	f := []*float64{&g.Samples, &g.M, &g.V, &g.Q, &g.Scale, &g.Total, &g.Z2, &g.Sel, &g.Run, &g.AlarmZ, &g.AlarmSrc, &g.PrevZ}
	if version >= 3 {
		f = append(f, &g.Slow, &g.SlowVar)
	}
	if version >= 4 {
		f = append(f, &g.Min, &g.Max)
	}
	if version >= 5 {
		f = append(f, &g.AnomAt, &g.PrevLvl, &g.AnomPeak)
	}
	for i := range g.Local {
		f = append(f, &g.Local[i])
	}
	for i := range g.LocalErr {
		f = append(f, &g.LocalErr[i])
	}
	for i := range b.tails(version) {
		t := &g.Tails[i]
		f = append(f, &t.Peak, &t.Quiet)
		if version < 3 {
			f = append(f, &t.Q2, &t.Q3)
		}
	}
	return f
}

// tails returns the evidence records a format version encodes.
func (b *Baseline) tails(version byte) []tail {
	if version < 3 {
		return b.g.Tails[:nTailsV2]
	}
	return b.g.Tails[:]
}

// metaCounts lists the exceedance counts, encoded as float32.
func (b *Baseline) metaCounts(version byte) []*float64 {
	var f []*float64
	for i := range b.tails(version) {
		for k := range b.g.Tails[i].Exceed {
			f = append(f, &b.g.Tails[i].Exceed[k])
		}
	}
	return f
}

// encodeMeta encodes the meta record in a format version (tests write
// version 2 to check that Decode still reads it).
func (b *Baseline) encodeMeta(version byte) []byte {
	buf := make([]byte, 0, 600)
	buf = append(buf, metaMagic[:]...)
	buf = append(buf, version, byte(b.cfg.Kind))
	var flags byte
	if b.g.Count {
		flags |= 1
	}
	buf = append(buf, flags)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(b.secs))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(b.nslots))
	buf = binary.LittleEndian.AppendUint16(buf, pageSlots)
	zone := b.cfg.Location.String()
	if len(zone) > 255 {
		zone = zone[:255]
	}
	buf = append(buf, byte(len(zone)))
	buf = append(buf, zone...)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(b.g.First))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(b.g.Last))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(b.g.Learned))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(b.g.AlarmAt))
	fs := b.metaFloats(version)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(fs)))
	for _, f := range fs {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(*f))
	}
	cs := b.metaCounts(version)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(cs)))
	for _, f := range cs {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(*f)))
	}
	if version >= 6 {
		buf = append(buf, byte(len(b.g.Sources)))
		for _, s := range b.g.Sources {
			buf = binary.LittleEndian.AppendUint64(buf, s.Key)
			buf = binary.LittleEndian.AppendUint64(buf, uint64(s.AlarmAt))
			for _, f := range s.floats() {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(*f))
			}
		}
	}
	return buf
}

// floats lists the source's fields encoded as float64, in their order.
func (s *sourceAlarm) floats() []*float64 {
	return []*float64{&s.AlarmZ, &s.AlarmSrc, &s.AnomAt, &s.AnomPeak}
}

// decodeSources reads the alarm memory per source of a version 6 meta
// record.
func (b *Baseline) decodeSources(r *reader) error {
	n := int(r.byte())
	if n > maxSources {
		return fmt.Errorf("decode baseline: meta: %d sources, at most %d", n, maxSources)
	}
	b.g.Sources = make([]sourceAlarm, n)
	for i := range b.g.Sources {
		s := &b.g.Sources[i]
		s.Key = r.u64()
		s.AlarmAt = int64(r.u64())
		for _, f := range s.floats() {
			v := math.Float64frombits(r.u64())
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return errors.New("decode baseline: meta: source alarm not valid")
			}
			*f = v
		}
		if r.err != nil {
			return nil // reported as truncated
		}
		if s.Key == 0 {
			return errors.New("decode baseline: meta: source without a key")
		}
	}
	if n == 0 {
		b.g.Sources = nil
	}
	return nil
}

// Decode rebuilds a baseline from Encode's output (meta and every page ever
// written, later writes replacing earlier ones). A missing page is empty. It
// returns an error wrapping ErrConfigChanged when cfg's interval, zone or
// kind differ from the stored ones, and a descriptive error for corrupt or
// unknown data; it never panics. A changed half-life is adopted as is.
func Decode(cfg Config, meta []byte, pages map[int]string) (*Baseline, error) {
	b := New(cfg)
	r := reader{buf: meta}
	var magic [4]byte
	copy(magic[:], r.bytes(4))
	ver := r.byte()
	kind := Kind(r.byte())
	flags := r.byte()
	secs := int64(r.u32())
	nslots := int(r.u32())
	ps := int(r.u16())
	zone := string(r.bytes(int(r.byte())))
	first := int64(r.u64())
	last := int64(r.u64())
	learned := int64(r.u64())
	alarmAt := int64(r.u64())
	nf := int(r.u16())
	if r.err != nil {
		return nil, fmt.Errorf("decode baseline: meta: %w", r.err)
	}
	if magic != metaMagic {
		return nil, errors.New("decode baseline: meta: not a logtally baseline")
	}
	if ver < 2 || ver > formatVersion {
		return nil, fmt.Errorf("decode baseline: meta: unknown format version %d", ver)
	}
	if secs != b.secs || nslots != b.nslots || ps != pageSlots && ps != oldPageSlots {
		return nil, fmt.Errorf("decode baseline: interval %ds stored, %ds configured: %w", secs, b.secs, ErrConfigChanged)
	}
	if zone != b.cfg.Location.String() {
		return nil, fmt.Errorf("decode baseline: zone %q stored, %q configured: %w", zone, b.cfg.Location.String(), ErrConfigChanged)
	}
	if kind != b.cfg.Kind {
		return nil, fmt.Errorf("decode baseline: kind %d stored, %d configured: %w", kind, b.cfg.Kind, ErrConfigChanged)
	}
	fs := b.metaFloats(ver)
	if nf != len(fs) {
		return nil, fmt.Errorf("decode baseline: meta: %d fields, want %d", nf, len(fs))
	}
	for _, f := range fs {
		v := math.Float64frombits(r.u64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("decode baseline: meta: value not finite")
		}
		*f = v
	}
	cs := b.metaCounts(ver)
	if nc := int(r.u16()); r.err == nil && nc != len(cs) {
		return nil, fmt.Errorf("decode baseline: meta: %d counts, want %d", nc, len(cs))
	}
	for _, f := range cs {
		v := float64(math.Float32frombits(r.u32()))
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, errors.New("decode baseline: meta: count not valid")
		}
		*f = v
	}
	if ver >= 6 {
		if err := b.decodeSources(&r); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode baseline: meta: %w", r.err)
	}
	if len(r.buf) != 0 {
		return nil, errors.New("decode baseline: meta: trailing bytes")
	}
	if b.g.Samples < 0 || b.g.V < 0 || b.g.Q < 0 || b.g.Total < 0 || b.g.SlowVar < 0 || b.g.Min > b.g.Max {
		return nil, errors.New("decode baseline: meta: negative count or variance")
	}
	b.g.Count = flags&1 != 0
	b.g.First, b.g.Last, b.g.Learned, b.g.AlarmAt = first, last, learned, alarmAt
	if ver < 3 {
		// The records a version 2 baseline did not keep start as the
		// Gaussian record of its history.
		for i := nTailsV2; i < nTails; i++ {
			for k := range b.g.Tails[i].Exceed {
				b.g.Tails[i].Exceed[k] = float64(float32(b.g.Total * gaussTab[k]))
			}
		}
	}
	b.recalibrate()
	if err := b.decodePages(pages, ps, ver); err != nil {
		return nil, err
	}
	if ver < 4 {
		b.rangeFromSlots()
	}
	b.metaOK = true
	return b, nil
}

// decodePages takes over the stored pages of ps slots each: compact pages
// (a version from compactVersion on) as they are; flat pages of an older
// version slot by slot, into compact pages of pageSlots that are all
// marked to be written at the next Encode (pages of another size leave
// keys that no page of pageSlots would overwrite otherwise).
func (b *Baseline) decodePages(pages map[int]string, ps int, ver byte) error {
	if ver >= compactVersion && ps != pageSlots {
		return fmt.Errorf("decode baseline: pages of %d slots in format version %d", ps, ver)
	}
	npages := (b.nslots + ps - 1) / ps
	var flat []slot // the slots of flat pages
	if ver < compactVersion {
		flat = make([]slot, b.nslots)
	}
	for p, data := range pages {
		if p < 0 || p >= npages {
			return fmt.Errorf("decode baseline: page %d out of range", p)
		}
		lo, hi := p*ps, min(p*ps+ps, b.nslots)
		if flat == nil {
			if err := checkPage(data, hi-lo); err != nil {
				return fmt.Errorf("decode baseline: page %d: %w", p, err)
			}
			b.pages[p] = data
			continue
		}
		if len(data) != (hi-lo)*slotBytes {
			return fmt.Errorf("decode baseline: page %d: %d bytes, want %d", p, len(data), (hi-lo)*slotBytes)
		}
		for i := lo; i < hi; i++ {
			o := (i - lo) * slotBytes
			s := slot{N: float32At(data, o), M: float32At(data, o+4), Q: float32At(data, o+8)}
			if !validSlot(s) {
				return fmt.Errorf("decode baseline: page %d: slot %d not valid", p, i)
			}
			flat[i] = s
		}
	}
	if flat != nil {
		for p := range b.pages {
			lo, hi := b.pageRange(p)
			b.pages[p] = encodePage(flat[lo:hi])
			b.dirty[p] = true
		}
	}
	return nil
}

// checkPage returns why data is not a compact page of n slots, or nil.
func checkPage(data string, n int) error {
	if len(data) < maskBytes {
		return fmt.Errorf("%d bytes, want at least %d", len(data), maskBytes)
	}
	var ends [3]int // where each field's values end
	size := maskBytes
	for f := range 3 {
		m := uint64At(data, 8*f)
		if n < 64 && m>>n != 0 {
			return fmt.Errorf("a value for a slot beyond the %d of the page", n)
		}
		size += 4 * bits.OnesCount64(m)
		ends[f] = size
	}
	if len(data) != size {
		return fmt.Errorf("%d bytes, want %d", len(data), size)
	}
	// Every slot's field is 0 or one of the values: checking these is
	// checking every slot.
	for o, f := maskBytes, 0; o < size; o += 4 {
		for o >= ends[f] {
			f++
		}
		v := float32At(data, o)
		if !finite32(v) || f != 1 && v < 0 {
			return fmt.Errorf("value %d not valid", (o-maskBytes)/4)
		}
	}
	return nil
}

// validSlot reports whether a decoded slot can be a learned one.
func validSlot(s slot) bool {
	return finite32(s.N) && finite32(s.M) && finite32(s.Q) && s.N >= 0 && s.Q >= 0
}

// rangeFromSlots sets the range of values learned, which a baseline
// encoded before version 4 did not keep, to that of its slots: each slot's
// mean two deviations either way (and the whole series' mean when no slot
// has data).
func (b *Baseline) rangeFromSlots() {
	b.g.Min, b.g.Max = b.g.M, b.g.M
	for i := range b.nslots {
		s := b.slot(i)
		if s.N <= 0 {
			continue
		}
		d := 2 * math.Sqrt(float64(s.Q))
		b.g.Min = math.Min(b.g.Min, float64(s.M)-d)
		b.g.Max = math.Max(b.g.Max, float64(s.M)+d)
	}
	if b.g.Count {
		b.g.Min = math.Max(b.g.Min, b.transform(0))
	}
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// reader reads little-endian fields and remembers the first short read.
type reader struct {
	buf []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.buf) {
		r.err = errors.New("truncated")
		r.buf = nil
		return nil
	}
	out := r.buf[:n]
	r.buf = r.buf[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
