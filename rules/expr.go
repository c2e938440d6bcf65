package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Expr is a compiled CFEngine class expression: `.` or `&` is AND, `|` (or
// `||`) is OR, `!` is NOT, parentheses group. AND binds tighter than OR, as
// in CFEngine. Class names are [A-Za-z0-9_]+; the literals `any` (always
// set) and `nothing` are recognised by the evaluator's caller, not here.
//
// A comparison is an operand: `value_h > 50`, `z_h >= 4`, `entropy_h < 0.3`
// (CFEngine's isgreaterthan and islessthan), with `<`, `<=`, `>`, `>=`,
// `==` and `!=` between two operands, each a number or the name of a
// numeric variable (value_h, av_h, dev_h, z_h, entropy_h; cfenvd's and
// CFEngine's names, such as average_h, are canonified with CanonicalVar).
// A comparison binds tighter than `!`, `.` and `|`. A comparison with a
// variable that has no value is false, whatever the operator.
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
	opCmp
)

// cmpOp is a comparison operator.
type cmpOp int

const (
	cmpLT cmpOp = iota
	cmpLE
	cmpGT
	cmpGE
	cmpEQ
	cmpNE
)

var cmpNames = [...]string{cmpLT: "<", cmpLE: "<=", cmpGT: ">", cmpGE: ">=", cmpEQ: "==", cmpNE: "!="}

// operand is one side of a comparison: a variable (name set) or a number.
type operand struct {
	name string
	num  float64
}

type exprNode struct {
	op   exprOp
	name string
	kids []exprNode
	// opCmp
	cmp  cmpOp
	l, r operand
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
// Comparisons are false: there are no variables.
func (e *Expr) Eval(isSet func(name string) bool) bool { return e.root.eval(isSet, nil) }

// EvalVars evaluates the expression; isSet reports whether a class is set
// and value returns a variable's value (ok false when it has none) for the
// comparisons.
func (e *Expr) EvalVars(isSet func(name string) bool, value func(name string) (float64, bool)) bool {
	return e.root.eval(isSet, value)
}

// Vars returns the variable names the comparisons of the expression refer
// to (canonical names, see CanonicalVar), each once, in order of first
// appearance.
func (e *Expr) Vars() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n exprNode)
	walk = func(n exprNode) {
		if n.op == opCmp {
			for _, o := range []operand{n.l, n.r} {
				if o.name != "" && !seen[o.name] {
					seen[o.name] = true
					out = append(out, o.name)
				}
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

func (n exprNode) eval(isSet func(string) bool, value func(string) (float64, bool)) bool {
	switch n.op {
	case opClass:
		return isSet(n.name)
	case opNot:
		return !n.kids[0].eval(isSet, value)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(isSet, value) {
				return false
			}
		}
		return true
	case opCmp:
		l, ok1 := n.l.value(value)
		r, ok2 := n.r.value(value)
		if !ok1 || !ok2 {
			return false
		}
		switch n.cmp {
		case cmpLT:
			return l < r
		case cmpLE:
			return l <= r
		case cmpGT:
			return l > r
		case cmpGE:
			return l >= r
		case cmpEQ:
			return l == r
		default:
			return l != r
		}
	default: // opOr
		for _, k := range n.kids {
			if k.eval(isSet, value) {
				return true
			}
		}
		return false
	}
}

// value returns the operand's value: its number, or its variable's value
// (not ok when there is none, or it is NaN).
func (o operand) value(value func(string) (float64, bool)) (float64, bool) {
	if o.name == "" {
		return o.num, true
	}
	if value == nil {
		return 0, false
	}
	v, ok := value(o.name)
	return v, ok && !math.IsNaN(v)
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
	case isClassChar(c) || c == '-' || c == '+' || c == '.':
		start := p.i
		if l, ok := p.number(); ok && p.cmpAhead() {
			return p.comparison(start, l)
		}
		p.i = start
		for p.i < len(p.s) && isClassChar(p.s[p.i]) {
			p.i++
		}
		if p.i == start {
			return exprNode{}, &ExprError{Offset: p.i, Msg: fmt.Sprintf("unexpected %q where a class name was expected", c)}
		}
		name := p.s[start:p.i]
		if p.cmpAhead() {
			return p.comparison(start, operand{name: CanonicalVar(name)})
		}
		return exprNode{op: opClass, name: name}, nil
	default:
		return exprNode{}, &ExprError{Offset: p.i, Msg: fmt.Sprintf("unexpected %q where a class name was expected", c)}
	}
}

// cmpAhead reports whether a comparison operator follows, after spaces.
func (p *exprParser) cmpAhead() bool {
	j := p.i
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j >= len(p.s) {
		return false
	}
	switch p.s[j] {
	case '<', '>', '=':
		return true
	case '!':
		return j+1 < len(p.s) && p.s[j+1] == '='
	}
	return false
}

// comparison parses the operator and right operand of a comparison whose
// left operand, starting at start, is l.
func (p *exprParser) comparison(start int, l operand) (exprNode, error) {
	p.skip()
	opAt := p.i
	var op cmpOp
	switch two := p.s[p.i:min(p.i+2, len(p.s))]; {
	case two == "<=":
		op = cmpLE
	case two == ">=":
		op = cmpGE
	case two == "==":
		op = cmpEQ
	case two == "!=":
		op = cmpNE
	case two == "=" || two[0] == '=':
		return exprNode{}, &ExprError{Offset: opAt, Msg: "= is not a comparison; write == for equality"}
	case two[0] == '<':
		op = cmpLT
	default:
		op = cmpGT
	}
	p.i += len(cmpNames[op])
	p.skip()
	if p.i >= len(p.s) {
		return exprNode{}, &ExprError{Offset: p.i, Msg: "expression ends where a number or a variable was expected"}
	}
	var r operand
	rAt := p.i
	if n, ok := p.number(); ok {
		r = n
	} else {
		p.i = rAt
		for p.i < len(p.s) && isClassChar(p.s[p.i]) {
			p.i++
		}
		if p.i == rAt {
			return exprNode{}, &ExprError{Offset: p.i, Msg: fmt.Sprintf("unexpected %q where a number or a variable was expected", p.s[p.i])}
		}
		r = operand{name: CanonicalVar(p.s[rAt:p.i])}
	}
	if l.name == "" && r.name == "" {
		return exprNode{}, &ExprError{Offset: start, Msg: "a comparison of two numbers; compare a variable such as value_h"}
	}
	if p.cmpAhead() {
		p.skip()
		return exprNode{}, &ExprError{Offset: p.i, Msg: "comparisons cannot be chained; join them with ."}
	}
	return exprNode{op: opCmp, cmp: op, l: l, r: r}, nil
}

// number parses a decimal number (sign, digits, fraction, exponent) that is
// not followed by a name character; ok is false, with p.i anywhere, when
// there is none.
func (p *exprParser) number() (operand, bool) {
	start := p.i
	if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
		p.i++
	}
	digits := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
		digits++
	}
	// A dot is a decimal point only before a digit: in value_h > 10.b it
	// is AND.
	if p.i+1 < len(p.s) && p.s[p.i] == '.' && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9' {
		p.i++
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			digits++
		}
	}
	if digits == 0 {
		return operand{}, false
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		j := p.i + 1
		if j < len(p.s) && (p.s[j] == '-' || p.s[j] == '+') {
			j++
		}
		k := j
		for k < len(p.s) && p.s[k] >= '0' && p.s[k] <= '9' {
			k++
		}
		if k > j {
			p.i = k
		}
	}
	if p.i < len(p.s) && isClassChar(p.s[p.i]) {
		return operand{}, false // a class name that starts with digits
	}
	v, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil || math.IsInf(v, 0) {
		return operand{}, false
	}
	return operand{num: v}, true
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
