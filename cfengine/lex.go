package cfengine

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a token, as CFEngine's lexer (cf3lex.l) has
// them; punctuation is tokPunct with the character in text.
type tokKind uint8

const (
	tokEOF        tokKind = iota
	tokBundle             // bundle
	tokBody               // body
	tokPromise            // promise (a custom promise block)
	tokIdent              // an identifier: ns:name, bundle.name, name
	tokString             // a quoted string; text is its content
	tokVar                // $(x), ${x}, @(x), as written
	tokClassGuard         // linux:: or "$(x)":: ; text is the expression
	tokTypeGuard          // measurements: ; text is the type
	tokFatArrow           // =>
	tokThinArrow          // ->
	tokPunct              // { } ( ) , ;
)

func (k tokKind) String() string {
	return [...]string{"end of file", "bundle", "body", "promise", "identifier", "string", "variable",
		"class guard", "promise type", "=>", "->", "punctuation"}[k]
}

type token struct {
	kind tokKind
	text string
	pos  Pos
}

func (t token) describe() string {
	switch t.kind {
	case tokPunct:
		return fmt.Sprintf("%q", t.text)
	case tokIdent, tokClassGuard, tokTypeGuard, tokVar:
		return fmt.Sprintf("%s %q", t.kind, t.text)
	case tokString:
		s := t.text
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Sprintf("string %q", s)
	}
	return t.kind.String()
}

// lexer splits a policy file into tokens.
type lexer struct {
	file string
	src  string
	i    int
	line int
	col  int // of src[i]
	// Macros: @if keeps its lines, @else drops them to @endif.
	inIf, dropping bool
	notes          []Note
}

// Error is a syntax error at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

func newLexer(file, src string) *lexer {
	return &lexer{file: file, src: src, line: 1, col: 1}
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

// advance moves over n bytes, counting lines.
func (l *lexer) advance(n int) {
	for _, c := range []byte(l.src[l.i : l.i+n]) {
		if c == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
	}
	l.i += n
}

func (l *lexer) errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// isClassByte reports whether c may be part of a class guard.
func isClassByte(c byte) bool {
	return isWordByte(c) || strings.IndexByte(".|&!():", c) >= 0
}

// next returns the next token.
func (l *lexer) next() (token, *Error) {
	for {
		if err := l.skipSpace(); err != nil {
			return token{}, err
		}
		if l.i >= len(l.src) {
			if l.inIf {
				return token{}, l.errorf(l.pos(), "end of file inside @if: @endif is missing")
			}
			return token{kind: tokEOF, pos: l.pos()}, nil
		}
		if l.col == 1 && l.src[l.i] == '@' {
			if err := l.macro(); err != nil {
				return token{}, err
			}
			continue
		}
		break
	}
	p := l.pos()
	rest := l.src[l.i:]
	c := rest[0]
	switch {
	case c == '"' || c == '\'' || c == '`':
		s, n, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		if strings.HasPrefix(rest[n:], "::") && c != '`' {
			// "$(x)":: is a class guard written as a string.
			l.advance(n + 2)
			return token{kind: tokClassGuard, text: rest[1 : n-1], pos: p}, nil
		}
		l.advance(n)
		return token{kind: tokString, text: s, pos: p}, nil
	case (c == '$' || c == '@') && len(rest) > 1 && (rest[1] == '(' || rest[1] == '{'):
		n, ok := varLen(rest)
		if !ok {
			return token{}, l.errorf(p, "unterminated variable reference %.20q", rest)
		}
		l.advance(n)
		return token{kind: tokVar, text: rest[:n], pos: p}, nil
	case strings.HasPrefix(rest, "=>"):
		l.advance(2)
		return token{kind: tokFatArrow, text: "=>", pos: p}, nil
	case strings.HasPrefix(rest, "->"):
		l.advance(2)
		return token{kind: tokThinArrow, text: "->", pos: p}, nil
	}
	if n := classGuardLen(rest); n > 0 {
		l.advance(n)
		return token{kind: tokClassGuard, text: strings.TrimSpace(rest[:n-2]), pos: p}, nil
	}
	if isWordByte(c) {
		n := identLen(rest)
		word := rest[:n]
		if g := typeGuardLen(rest); g > n {
			l.advance(g)
			return token{kind: tokTypeGuard, text: rest[:g-1], pos: p}, nil
		}
		l.advance(n)
		switch word {
		case "bundle":
			return token{kind: tokBundle, text: word, pos: p}, nil
		case "body":
			return token{kind: tokBody, text: word, pos: p}, nil
		case "promise":
			return token{kind: tokPromise, text: word, pos: p}, nil
		}
		return token{kind: tokIdent, text: word, pos: p}, nil
	}
	if strings.IndexByte("{}(),;", c) >= 0 {
		l.advance(1)
		return token{kind: tokPunct, text: string(c), pos: p}, nil
	}
	return token{}, l.errorf(p, "unexpected character %q", c)
}

// skipSpace skips blanks, newlines and comments, and the lines an @else
// drops.
func (l *lexer) skipSpace() *Error {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case l.dropping:
			if l.col == 1 && strings.HasPrefix(l.src[l.i:], "@endif") {
				l.dropping, l.inIf = false, false
				l.skipLine()
				continue
			}
			l.skipLine()
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance(1)
		case c == '#':
			l.skipLine()
		default:
			return nil
		}
	}
	return nil
}

// skipLine moves to the start of the next line.
func (l *lexer) skipLine() {
	if j := strings.IndexByte(l.src[l.i:], '\n'); j >= 0 {
		l.advance(j + 1)
		return
	}
	l.advance(len(l.src) - l.i)
}

// macro handles a line starting with @: @if keeps the lines up to @else
// or @endif (the condition is taken as true, and said so), @else drops
// the lines up to @endif.
func (l *lexer) macro() *Error {
	p := l.pos()
	line := l.src[l.i:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	line = strings.TrimRight(line, " \t\r")
	switch {
	case strings.HasPrefix(line, "@if "):
		if l.inIf {
			return l.errorf(p, "nested @if macros are not allowed")
		}
		l.inIf = true
		l.notes = append(l.notes, Note{Pos: p, Msg: fmt.Sprintf("%s taken as true", line)})
	case line == "@else":
		if !l.inIf {
			return l.errorf(p, "@else without @if")
		}
		l.dropping = true
		l.notes = append(l.notes, Note{Pos: p, Msg: "the lines from @else to @endif skipped"})
	case line == "@endif":
		if !l.inIf {
			return l.errorf(p, "@endif without @if")
		}
		l.inIf = false
	default:
		return l.errorf(p, "unknown macro %q", line)
	}
	l.skipLine()
	return nil
}

// quoted reads the quoted string at l.i and returns its content with
// CFEngine's escapes undone, and its length in the source. As in
// CFEngine, a backslash escapes a backslash or a quote of either kind,
// and with the newline after it disappears; before anything else it
// stays (so "\d+" is \d+); backquoted strings have no escapes.
func (l *lexer) quoted() (string, int, *Error) {
	src := l.src[l.i:]
	q := src[0]
	var b strings.Builder
	for j := 1; j < len(src); j++ {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, nil
		case c == '\\' && q != '`' && j+1 < len(src):
			switch d := src[j+1]; d {
			case '\\', '"', '\'':
				b.WriteByte(d)
				j++
			case '\n':
				j++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, l.errorf(l.pos(), "unterminated string")
}

// varLen returns the length of the variable reference at the start of s,
// $(...) or ${...}, with nested references and [index] inside.
func varLen(s string) (int, bool) {
	open := s[1]
	close := byte(')')
	if open == '{' {
		close = '}'
	}
	depth := 0
	for j := 2; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\n' || c == '"' || c == '\'':
			return 0, false
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == close && depth == 0:
			return j + 1, j > 2
		case c == ')' || c == '}' || c == ']':
			depth--
			if depth < 0 {
				return 0, false
			}
		}
	}
	return 0, false
}

// classGuardLen returns the length of the class guard at the start of s,
// with its "::", or 0: the longest run of class characters (and blanks,
// but not first) that ends in "::".
func classGuardLen(s string) int {
	if s == "" || !isClassByte(s[0]) {
		return 0
	}
	end := 0
	for j := 0; j < len(s); j++ {
		c := s[j]
		if !isClassByte(c) && c != ' ' && c != '\t' {
			break
		}
		if c == ':' && j > 0 && s[j-1] == ':' {
			end = j + 1
		}
	}
	return end
}

// identLen returns the length of the identifier at the start of s:
// [ns:][bundle.]name, made of word bytes.
func identLen(s string) int {
	word := func(i int) int {
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		return j
	}
	n := word(0)
	if n < len(s) && s[n] == ':' && n+1 < len(s) && isWordByte(s[n+1]) {
		n = word(n + 1)
	}
	if n < len(s) && s[n] == '.' && n+1 < len(s) && isWordByte(s[n+1]) {
		n = word(n + 1)
	}
	return n
}

// typeGuardLen returns the length of a promise type guard at the start of
// s, such as "measurements:", or 0.
func typeGuardLen(s string) int {
	j := 0
	for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
		j++
	}
	if j == 0 || j >= len(s) || s[j] != ':' || (j+1 < len(s) && s[j+1] == ':') {
		return 0
	}
	return j + 1
}
