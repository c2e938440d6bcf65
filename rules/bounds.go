package rules

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on what a rule file can make the loader allocate or compute. A
// rule file is read as root by a daemon that runs on every host, and what
// it nests, repeats or expands costs far more in the decoders than its
// bytes: a 50 KB file of 10,000 nested maps took about 1 GB in koanf,
// which keeps the whole key path of every value, and a 390 KB map of
// 40,000 keys took 27 s in the YAML decoder, which compares every key
// with every other. So each file is measured before its bytes reach koanf
// or a YAML decoder: its size as it is read, its nesting by a scan of its
// bytes (scanDepth); then the position parser's nodes, which keep YAML
// aliases as references, are counted as the decoder would expand them,
// and the width of each map (checkNodes); the items that for: produces
// are counted over all files (loader.items).
const (
	// MaxFileSize bounds the bytes of one rule file (a few thousand
	// measurements; more go in more files).
	MaxFileSize = 256 << 10
	// MaxDepth bounds the nesting of maps and lists (the deepest rule,
	// settings.outputs[0].tags.name, is 4 deep).
	MaxDepth = 32
	// MaxNodes bounds the values of one YAML file, counting each use of
	// an alias as the whole value it names.
	MaxNodes = 100000
	// MaxMapKeys bounds the keys of one map.
	MaxMapKeys = 2000
	// MaxItems bounds the measurements, commands and reports of all the
	// files, once expanded by for:.
	MaxItems = 5000
)

// readRuleFile reads at most MaxFileSize bytes of a rule file; a longer
// file is an error at the line where it crosses the limit. A device such
// as /dev/zero is refused the same way.
func readRuleFile(name string) ([]byte, *Error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("read rules: %v", unwrapPath(err))}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("read rules: %v", unwrapPath(err))}
	}
	if e := checkSize(name, data); e != nil {
		return nil, e
	}
	return data, nil
}

// checkSize refuses data longer than MaxFileSize.
func checkSize(name string, data []byte) *Error {
	if len(data) <= MaxFileSize {
		return nil
	}
	return &Error{Pos: Pos{File: name, Line: 1 + strings.Count(string(data[:MaxFileSize]), "\n")},
		Msg: fmt.Sprintf("the file is larger than %d KiB", MaxFileSize>>10), Hint: "split it into several files in the rules directory"}
}

// depthError is the error of a file nested deeper than MaxDepth, at the
// position where it goes deeper.
func depthError(name string, line, col int) *Error {
	return &Error{Pos: Pos{File: name, Line: line, Col: col}, Msg: fmt.Sprintf("nested more than %d levels deep", MaxDepth),
		Hint: "rules need a few levels: a list of measurements, each a map"}
}

// scanDepth refuses a file whose maps and lists nest deeper than MaxDepth,
// by a scan of its bytes, before any decoder sees them. The scan may
// count a level too many where a line continues a scalar at a deeper
// indentation, never one too few, so it errs on the side of refusing a
// file that no rule needs.
func scanDepth(name string, data []byte) *Error {
	if format(name) == "toml" {
		return scanDepthTOML(name, data)
	}
	return scanDepthYAML(name, data) // JSON is YAML's flow style
}

// scanDepthYAML scans YAML (and JSON): block nesting is measured by the
// indentations of enclosing lines and the "- " and "? " indicators that
// open a line; flow nesting by the brackets outside quotes and comments.
func scanDepthYAML(name string, data []byte) *Error {
	var (
		indents []int // indentations of the enclosing block lines
		flow    int   // open [ and {
		quote   byte  // the quote of a scalar that continues on the next line
		block   = -1  // indentation of the parent of a block scalar (| or >) being skipped
	)
	for n, line := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		indent := len(line) - len(strings.TrimLeft(line, " "))
		rest := strings.TrimSpace(line)
		if block >= 0 {
			if rest == "" || indent > block {
				continue
			}
			block = -1
		}
		depth := len(indents)
		i := 0
		tokenStart := true
		if quote == 0 && flow == 0 {
			i = indent
			if rest == "" || rest[0] == '#' {
				continue
			}
			for len(indents) > 0 && indents[len(indents)-1] >= indent {
				indents = indents[:len(indents)-1]
			}
			indents = append(indents, indent)
			depth = len(indents)
			// "- - x" and "? x" open a level each.
			for i+1 < len(line) && (line[i] == '-' || line[i] == '?') && (line[i+1] == ' ' || line[i+1] == '\t') {
				depth++
				i += 2
				for i < len(line) && line[i] == ' ' {
					i++
				}
			}
			switch {
			case i+1 == len(line) && line[i] == '-':
				depth++
			case depth == len(indents) && (line[i] == '[' || line[i] == '{'):
				// A flow collection alone on its line (a JSON document,
				// a value below its key) is not in a block collection
				// of this indentation.
				depth--
			}
			if depth > MaxDepth {
				return depthError(name, lineNo, i+1)
			}
		}
		for ; i < len(line); i++ {
			c := line[i]
			switch {
			case quote == '\'':
				if c == '\'' {
					if i+1 < len(line) && line[i+1] == '\'' {
						i++
						continue
					}
					quote = 0
				}
				continue
			case quote == '"':
				if c == '\\' {
					i++
					continue
				}
				if c == '"' {
					quote = 0
				}
				continue
			}
			switch {
			case c == ' ' || c == '\t':
				continue
			case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
				i = len(line) // a comment
				continue
			case (c == '\'' || c == '"') && tokenStart:
				quote = c
			case (c == '[' || c == '{') && (tokenStart || flow > 0):
				flow++
				if depth+flow > MaxDepth {
					return depthError(name, lineNo, i+1)
				}
				tokenStart = true
				continue
			case (c == ']' || c == '}') && flow > 0:
				flow--
			case c == ',' && flow > 0:
				tokenStart = true
				continue
			case c == ':' && (flow > 0 || i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'):
				tokenStart = true
				continue
			case (c == '|' || c == '>') && tokenStart && flow == 0:
				block = indent // the lines below, more indented, are text
				i = len(line)
				continue
			case (c == '&' || c == '*' || c == '!') && tokenStart:
				// An anchor, alias or tag: its name is not a token start.
				for i+1 < len(line) && line[i+1] != ' ' && line[i+1] != ',' && line[i+1] != ']' && line[i+1] != '}' {
					i++
				}
				continue
			}
			tokenStart = false
		}
	}
	return nil
}

// scanDepthTOML scans TOML: a table header's dotted parts, the dotted
// parts of keys, and the arrays and inline tables of values, outside
// strings and comments.
func scanDepthTOML(name string, data []byte) *Error {
	type opened struct {
		levels int  // the levels it opens, with the dotted key it is the value of
		table  bool // { rather than [
	}
	var (
		table  int      // levels of the current [table] or [[array]]
		open   []opened // the enclosing [ and { of a value
		key    = 1      // levels of the key being read: 1 + its dots
		inKey  = true   // reading a key: at a line start, after { or a , in one
		header bool     // reading a [table] header
		next   = 1      // levels the next [ or { opens
		quote  string   // the open string's quote: ", ', """ or '''
	)
	// depth is the number of tables and arrays around the current
	// position, but for the root table: a value's key adds its parts.
	depth := func() int {
		n := table
		for _, o := range open {
			n += o.levels
		}
		return n
	}
	line, col := 1, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		if c == '\n' {
			line, col = line+1, 0
		}
		if quote != "" {
			switch {
			case c == '\\' && quote[0] == '"':
				i++
				col++
			case bytes.HasPrefix(data[i:], []byte(quote)):
				i += len(quote) - 1
				col += len(quote) - 1
				quote = ""
			}
			continue
		}
		switch c {
		case '\n':
			if len(open) == 0 {
				inKey, key, header = true, 1, false
			}
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			quote = string(c)
			if i+2 < len(data) && data[i+1] == c && data[i+2] == c {
				quote = strings.Repeat(string(c), 3)
				i += 2
				col += 2
			}
		case '.':
			switch {
			case header:
				key++
				if key+1 > MaxDepth {
					return depthError(name, line, col)
				}
			case inKey:
				key++
				if depth()+key > MaxDepth {
					return depthError(name, line, col)
				}
			}
		case '=':
			if depth()+key > MaxDepth {
				return depthError(name, line, col)
			}
			inKey, next = false, key
		case '[', '{':
			if inKey && len(open) == 0 && c == '[' {
				// A table header; [[x]] (an array of tables) is one level
				// deeper.
				header, inKey, key = true, false, 1
				if i+1 < len(data) && data[i+1] == '[' {
					key++
					i++
					col++
				}
				continue
			}
			open = append(open, opened{levels: next, table: c == '{'})
			if depth()+1 > MaxDepth {
				return depthError(name, line, col)
			}
			inKey, key, next = c == '{', 1, 1
		case ']', '}':
			if header {
				table, header = key, false
				if table+1 > MaxDepth {
					return depthError(name, line, col)
				}
				continue
			}
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case ',':
			if len(open) > 0 && open[len(open)-1].table {
				inKey, key = true, 1
			}
			next = 1
		}
	}
	return nil
}

// checkNodes refuses a YAML document that holds more than MaxNodes
// values once its aliases are expanded, as the decoder behind koanf
// would expand them (a "billion laughs" file of a few lines names 10⁹
// values), or a map of more than MaxMapKeys keys. It works on the
// position parser's nodes, which keep an alias as a reference, and
// visits each node once.
func checkNodes(name string, doc *yaml.Node) *Error {
	size := map[*yaml.Node]int{}
	var bad *Error
	var count func(n *yaml.Node, depth int) int
	count = func(n *yaml.Node, depth int) int {
		if bad != nil {
			return MaxNodes + 1
		}
		if s, ok := size[n]; ok {
			return s
		}
		size[n] = MaxNodes + 1 // an alias of itself, should one get here, is too large
		if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxMapKeys {
			bad = &Error{Pos: yamlPos(name, n), Msg: fmt.Sprintf("a map of more than %d keys", MaxMapKeys),
				Hint: "rules need far fewer: split the file"}
			return MaxNodes + 1
		}
		s := 1
		if depth > MaxDepth*4 {
			s = MaxNodes + 1 // aliases of aliases nest beyond any rule
		} else if n.Kind == yaml.AliasNode && n.Alias != nil {
			s = count(n.Alias, depth+1)
		} else {
			for _, c := range n.Content {
				s += count(c, depth+1)
				if s > MaxNodes {
					break
				}
			}
		}
		if s > MaxNodes && bad == nil {
			bad = &Error{Pos: yamlPos(name, n), Msg: fmt.Sprintf("more than %d values, counting each use of an alias (*name) as the whole value it names", MaxNodes),
				Hint: "rules need far fewer: split the file, or use fewer or smaller aliases"}
		}
		size[n] = s
		return s
	}
	count(doc, 0)
	return bad
}
