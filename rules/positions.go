package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
	"gopkg.in/yaml.v3"
)

// koanf's parsers, which decode the rule files, hand back plain maps
// without source positions. Every error must name file:line:col, so each
// file is also parsed with a parser that keeps positions (yaml.v3 nodes for
// YAML and JSON, go-toml's unstable AST for TOML), and a posIndex maps each
// key path of the decoded map to where its key and value were written. A
// YAML file is parsed once: its map is decoded from the same nodes
// (yamlDoc), as koanf's YAML parser would decode the text; JSON and TOML
// files are decoded by koanf's parsers, whose errors are exact.

// child returns the path of key inside the map at path. Keys that are not
// plain identifiers are quoted so that paths stay unambiguous.
func child(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// elem returns the path of element i of the list at path.
func elem(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// nodePos is where a key and its value were written.
type nodePos struct {
	key Pos // the key; for a list element, the element
	val Pos // the value
	// inner is the number of bytes between val.Col and the first byte of
	// the string's content (1 for a quoted string), or -1 when columns in
	// the value cannot be mapped to columns of the file (multi-line).
	inner int
}

// maxIndexEntries bounds the work of indexing a hostile document, such as
// one that nests aliases.
const maxIndexEntries = 1 << 17

// posIndex maps key paths of one file to positions.
type posIndex struct {
	file   string
	m      map[string]nodePos
	budget int
	dup    *Error // the first key written twice in one map
}

func newIndex(file string) *posIndex {
	return &posIndex{file: file, m: map[string]nodePos{}, budget: maxIndexEntries}
}

func (ix *posIndex) set(path string, np nodePos, override bool) {
	if ix.budget <= 0 {
		return
	}
	if _, ok := ix.m[path]; ok && !override {
		return
	}
	ix.budget--
	ix.m[path] = np
}

func (ix *posIndex) lookup(path string) (nodePos, bool) {
	if ix == nil {
		return nodePos{}, false
	}
	np, ok := ix.m[path]
	return np, ok
}

// yamlLine finds the line number in a yaml.v3 error. yaml.v3 reports
// positions only inside its messages ("yaml: line 3: ..."), so the message
// is the only source.
var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrPos(file string, err error) Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, e := strconv.Atoi(m[1]); e == nil && n > 0 {
			return Pos{File: file, Line: n}
		}
	}
	return Pos{File: file}
}

func yamlPos(file string, n *yaml.Node) Pos {
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

func yamlInner(n *yaml.Node) int {
	if n.Kind != yaml.ScalarNode {
		return -1
	}
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return -1
	case n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0:
		return 1
	default:
		return 0
	}
}

// indexYAML parses data (YAML, or JSON, which is YAML) and indexes it. It
// also reports what the decoder used by koanf accepts silently: more than
// one document, or a top level that is not a map. It returns the
// document too (nil for an empty file): koanf loads a YAML file from it
// (yamlDoc) rather than parsing the file a second time.
func indexYAML(file string, data []byte) (ix *posIndex, doc *yaml.Node, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			ix, doc, err = nil, nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = new(yaml.Node)
	if e := dec.Decode(doc); e != nil {
		if errors.Is(e, io.EOF) {
			return newIndex(file), nil, nil
		}
		return nil, nil, yamlSyntaxError(file, data, e)
	}
	if e := checkNodes(file, doc); e != nil {
		return nil, nil, e
	}
	var next yaml.Node
	if e := dec.Decode(&next); e == nil {
		return nil, nil, &Error{Pos: yamlPos(file, &next), Msg: "a second YAML document; put one document in each file"}
	} else if !errors.Is(e, io.EOF) {
		return nil, nil, yamlSyntaxError(file, data, e)
	}
	ix = newIndex(file)
	if len(doc.Content) == 1 {
		root := doc.Content[0]
		for root.Kind == yaml.AliasNode && root.Alias != nil {
			root = root.Alias
		}
		isNull := root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null"
		if root.Kind != yaml.MappingNode && !isNull {
			return nil, nil, &Error{Pos: yamlPos(file, root), Msg: "the top level must be a map", Hint: "keys: measurements, classes, commands, reports, settings"}
		}
		ix.addYAML(root, "", 0, true)
	}
	if ix.dup != nil {
		return nil, nil, ix.dup
	}
	return ix, doc, nil
}

// yamlDoc is a YAML document indexYAML parsed, whose map is decoded
// from its nodes without a second parse of the file. The map is what
// koanf's YAML parser makes of the text (yaml.v3's decoding into
// map[string]any).
type yamlDoc struct{ doc *yaml.Node }

// Read decodes the document into a map.
func (y yamlDoc) Read() (map[string]any, error) {
	m := map[string]any{}
	if y.doc == nil {
		return m, nil
	}
	if err := y.doc.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// maxBisectLines bounds the search for the line of a YAML syntax error.
const maxBisectLines = 20000

// yamlSyntaxError positions a YAML syntax error. yaml.v3 names the line
// where the enclosing construct starts, often far above the mistake, so
// the line is found again as the first line whose addition makes the
// document fail to parse (a prefix cut at a line end is usually valid).
func yamlSyntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pos := yamlErrPos(file, err)
	if pos.Line > 0 {
		msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", pos.Line))
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) <= maxBisectLines {
		lo, hi := 0, len(lines) // prefix of lo lines parses, of hi lines fails
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if yamlParses(strings.Join(lines[:mid], "")) {
				lo = mid
			} else {
				hi = mid
			}
		}
		if hi > pos.Line {
			pos = Pos{File: file, Line: hi}
		}
	}
	return &Error{Pos: pos, Msg: "syntax error: " + msg}
}

func yamlParses(s string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

const maxIndexDepth = 200

func (ix *posIndex) addYAML(n *yaml.Node, path string, depth int, override bool) {
	if ix.budget <= 0 || depth > maxIndexDepth {
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias != nil {
			ix.addYAML(n.Alias, path, depth+1, override)
		}
	case yaml.MappingNode:
		var merges []*yaml.Node
		keys := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			// The YAML decoder refuses a key written twice, but JSON's
			// keeps the last one silently; both are an error here.
			if prev, twice := keys[k.Value]; twice && ix.dup == nil {
				ix.dup = &Error{Pos: yamlPos(ix.file, k), Msg: fmt.Sprintf("key %q already defined at %s", k.Value, yamlPos(ix.file, prev))}
			}
			keys[k.Value] = k
			p := child(path, k.Value)
			ix.set(p, nodePos{key: yamlPos(ix.file, k), val: yamlPos(ix.file, v), inner: yamlInner(v)}, override)
			ix.addYAML(v, p, depth+1, override)
		}
		// Keys written in the map win over merged ones (<<: *base), as in
		// the decoder, whatever their order.
		for _, m := range merges {
			for m.Kind == yaml.AliasNode && m.Alias != nil && depth < maxIndexDepth {
				m = m.Alias
				depth++
			}
			if m.Kind == yaml.SequenceNode {
				for _, c := range m.Content {
					ix.addYAML(c, path, depth+1, false)
				}
				continue
			}
			ix.addYAML(m, path, depth+1, false)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := elem(path, i)
			cp := yamlPos(ix.file, c)
			ix.set(p, nodePos{key: cp, val: cp, inner: yamlInner(c)}, override)
			ix.addYAML(c, p, depth+1, override)
		}
	}
}

// indexTOML parses TOML with go-toml's unstable parser, the only one that
// exposes positions, and indexes it. Array tables ([[measurements]]) get
// the element indexes the decoder gives them.
func indexTOML(file string, data []byte) (ix *posIndex, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			ix, err = nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	data = data[:len(data):len(data)] // the parser finds offsets by capacity
	t := &tomlIndexer{ix: newIndex(file), arrays: map[string]int{}}
	t.p.Reset(data)
	table := ""
	for t.p.NextExpression() {
		e := t.p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			keys := tomlKeys(e.Key())
			cur := ""
			for i, k := range keys {
				cur = child(cur, string(k.Data))
				kp := t.pos(k)
				if i == len(keys)-1 && e.Kind == unstable.ArrayTable {
					n := t.arrays[cur]
					t.arrays[cur] = n + 1
					t.ix.set(cur, nodePos{key: kp, val: kp, inner: -1}, false)
					cur = elem(cur, n)
					t.ix.set(cur, nodePos{key: kp, val: kp, inner: -1}, true)
					continue
				}
				if n, ok := t.arrays[cur]; ok {
					cur = elem(cur, n-1)
					continue
				}
				t.ix.set(cur, nodePos{key: kp, val: kp, inner: -1}, false)
			}
			table = cur
		case unstable.KeyValue:
			t.keyValue(e, table, 0)
		}
	}
	if e := t.p.Error(); e != nil {
		pos := Pos{File: file}
		var pe *unstable.ParserError
		if errors.As(e, &pe) {
			pos = t.rangePos(pe.Highlight)
		}
		return nil, &Error{Pos: pos, Msg: "syntax error: " + e.Error()}
	}
	return t.ix, nil
}

type tomlIndexer struct {
	p      unstable.Parser
	ix     *posIndex
	arrays map[string]int // array tables seen: path → elements
}

func tomlKeys(it unstable.Iterator) []*unstable.Node {
	var keys []*unstable.Node
	for it.Next() {
		keys = append(keys, it.Node())
	}
	return keys
}

func (t *tomlIndexer) pos(n *unstable.Node) Pos {
	s := t.p.Shape(n.Raw)
	return Pos{File: t.ix.file, Line: s.Start.Line, Col: s.Start.Column}
}

// rangePos converts a highlight (a subslice of the input) to a position.
func (t *tomlIndexer) rangePos(b []byte) (p Pos) {
	p = Pos{File: t.ix.file}
	defer func() {
		if recover() != nil {
			p = Pos{File: t.ix.file}
		}
	}()
	s := t.p.Shape(t.p.Range(b))
	return Pos{File: t.ix.file, Line: s.Start.Line, Col: s.Start.Column}
}

// valPos is the position of a value; arrays carry no range in the AST, so
// they take the position of their key.
func (t *tomlIndexer) valPos(v *unstable.Node, fallback Pos) (Pos, int) {
	if v.Kind == unstable.Array || v.Raw.Length == 0 {
		return fallback, -1
	}
	inner := -1
	if v.Kind == unstable.String {
		raw := t.p.Raw(v.Raw)
		switch {
		case strings.ContainsAny(string(raw), "\r\n"):
		case strings.HasPrefix(string(raw), `"""`), strings.HasPrefix(string(raw), `'''`):
			inner = 3
		case strings.HasPrefix(string(raw), `"`), strings.HasPrefix(string(raw), `'`):
			inner = 1
		}
	}
	return t.pos(v), inner
}

func (t *tomlIndexer) keyValue(kv *unstable.Node, base string, depth int) {
	if depth > maxIndexDepth {
		return
	}
	keys := tomlKeys(kv.Key())
	cur := base
	for i, k := range keys {
		cur = child(cur, string(k.Data))
		kp := t.pos(k)
		if i < len(keys)-1 {
			t.ix.set(cur, nodePos{key: kp, val: kp, inner: -1}, false)
			continue
		}
		v := kv.Value()
		vp, inner := t.valPos(v, kp)
		t.ix.set(cur, nodePos{key: kp, val: vp, inner: inner}, true)
		t.value(v, cur, vp, depth+1)
	}
}

func (t *tomlIndexer) value(v *unstable.Node, path string, fallback Pos, depth int) {
	if depth > maxIndexDepth || t.ix.budget <= 0 {
		return
	}
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			p := elem(path, i)
			cp, inner := t.valPos(c, fallback)
			t.ix.set(p, nodePos{key: cp, val: cp, inner: inner}, true)
			t.value(c, p, cp, depth+1)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				t.keyValue(c, path, depth+1)
			}
		}
	}
}

// offsetPos converts a byte offset of data to a position.
func offsetPos(file string, data []byte, off int64) Pos {
	if off < 0 || off > int64(len(data)) {
		return Pos{File: file}
	}
	b := data[:off]
	line := 1 + strings.Count(string(b), "\n")
	col := int(off) - strings.LastIndexByte(string(b), '\n')
	return Pos{File: file, Line: line, Col: col}
}

// jsonErrPos finds the position of an encoding/json error.
func jsonErrPos(file string, data []byte, err error) Pos {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return offsetPos(file, data, max(se.Offset-1, 0))
	case errors.As(err, &te):
		return offsetPos(file, data, te.Offset)
	}
	return Pos{File: file}
}
