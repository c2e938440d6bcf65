package rules

import (
	"fmt"
	"strings"
)

// Expr is a compiled CFEngine class expression: `.` or `&` is AND, `|` (or
// `||`) is OR, `!` is NOT, parentheses group. AND binds tighter than OR, as
// in CFEngine. Class names are [A-Za-z0-9_]+; the literals `any` (always
// set) and `nothing` are recognised by the evaluator's caller, not here.
type Expr struct {
	src  string
	root exprNode
}

type exprOp int

const (
	opClass exprOp = iota
	opNot
	opAnd
	opOr
)

type exprNode struct {
	op   exprOp
	name string
	kids []exprNode
}

// ExprError is a syntax error in a class expression; Offset is the byte
// offset in the expression where it was noticed.
type ExprError struct {
	Offset int
	Msg    string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("at offset %d: %s", e.Offset, e.Msg)
}

// ParseExpr parses a class expression.
func ParseExpr(s string) (*Expr, error) {
	p := exprParser{s: s}
	p.skip()
	if p.i >= len(p.s) {
		return nil, &ExprError{Offset: 0, Msg: "empty class expression"}
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i < len(p.s) {
		return nil, &ExprError{Offset: p.i, Msg: fmt.Sprintf("unexpected %q", p.s[p.i])}
	}
	return &Expr{src: s, root: n}, nil
}

// MustParseExpr is ParseExpr for expressions known to be valid; it panics
// on error. Use it only with constant input.
func MustParseExpr(s string) *Expr {
	e, err := ParseExpr(s)
	if err != nil {
		panic(fmt.Sprintf("rules: MustParseExpr(%q): %v", s, err))
	}
	return e
}

// String returns the expression as written.
func (e *Expr) String() string { return e.src }

// Eval evaluates the expression; isSet reports whether a class is set.
func (e *Expr) Eval(isSet func(name string) bool) bool { return e.root.eval(isSet) }

// Classes returns the class names the expression refers to, each once, in
// order of first appearance.
func (e *Expr) Classes() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n exprNode)
	walk = func(n exprNode) {
		if n.op == opClass {
			if !seen[n.name] {
				seen[n.name] = true
				out = append(out, n.name)
			}
			return
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(e.root)
	return out
}

func (n exprNode) eval(isSet func(string) bool) bool {
	switch n.op {
	case opClass:
		return isSet(n.name)
	case opNot:
		return !n.kids[0].eval(isSet)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(isSet) {
				return false
			}
		}
		return true
	default: // opOr
		for _, k := range n.kids {
			if k.eval(isSet) {
				return true
			}
		}
		return false
	}
}

type exprParser struct {
	s     string
	i     int
	depth int
}

// maxExprDepth bounds nesting so that a hostile or broken expression cannot
// exhaust the stack.
const maxExprDepth = 100

func (p *exprParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *exprParser) or() (exprNode, error) {
	first, err := p.and()
	if err != nil {
		return exprNode{}, err
	}
	kids := []exprNode{first}
	for {
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != '|' {
			break
		}
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
		}
		n, err := p.and()
		if err != nil {
			return exprNode{}, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return exprNode{op: opOr, kids: kids}, nil
}

func (p *exprParser) and() (exprNode, error) {
	first, err := p.unary()
	if err != nil {
		return exprNode{}, err
	}
	kids := []exprNode{first}
	for {
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '.' && p.s[p.i] != '&') {
			break
		}
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '&' {
			p.i++
		}
		n, err := p.unary()
		if err != nil {
			return exprNode{}, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return exprNode{op: opAnd, kids: kids}, nil
}

func (p *exprParser) unary() (exprNode, error) {
	p.skip()
	if p.i >= len(p.s) {
		return exprNode{}, &ExprError{Offset: p.i, Msg: "expression ends where a class name was expected"}
	}
	switch c := p.s[p.i]; {
	case c == '!':
		p.i++
		if p.depth++; p.depth > maxExprDepth {
			return exprNode{}, &ExprError{Offset: p.i, Msg: "expression nested too deeply"}
		}
		n, err := p.unary()
		p.depth--
		if err != nil {
			return exprNode{}, err
		}
		return exprNode{op: opNot, kids: []exprNode{n}}, nil
	case c == '(':
		open := p.i
		p.i++
		if p.depth++; p.depth > maxExprDepth {
			return exprNode{}, &ExprError{Offset: p.i, Msg: "expression nested too deeply"}
		}
		n, err := p.or()
		p.depth--
		if err != nil {
			return exprNode{}, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return exprNode{}, &ExprError{Offset: open, Msg: "unclosed parenthesis"}
		}
		p.i++
		return n, nil
	case isClassChar(c):
		start := p.i
		for p.i < len(p.s) && isClassChar(p.s[p.i]) {
			p.i++
		}
		return exprNode{op: opClass, name: p.s[start:p.i]}, nil
	default:
		return exprNode{}, &ExprError{Offset: p.i, Msg: fmt.Sprintf("unexpected %q where a class name was expected", c)}
	}
}

func isClassChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CanonifyName turns s into a class name as CFEngine's canonify() does:
// every byte that is not an ASCII letter, digit or underscore becomes an
// underscore, so mail_sm-mta becomes mail_sm_mta.
func CanonifyName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isClassChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// ValidClassName reports whether s is a valid class or handle name:
// letters, digits and underscores, not starting with a digit.
func ValidClassName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return r > 127 || !isClassChar(byte(r)) }) < 0
}
