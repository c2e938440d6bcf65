// Package cfengine parses CFEngine 3 policy files: bundles, bodies and
// promise blocks with their parameters; in bundles, promise type sections
// (measurements:, classes:, reports:, ...), class guards (linux::,
// "$(x)"::) and promises with their promiser, promisee and attributes; in
// bodies, attributes under class guards. Values are strings (double,
// single or back quotes, with CFEngine's escapes), identifiers, variable
// references, lists and function calls. Every element keeps its file,
// line and column, so that a tool reading policy can say where each thing
// it uses or refuses was written. The parser follows the grammar and the
// lexer of CFEngine's own (libpromises/cf3parse.y, cf3lex.l); it
// evaluates nothing: variables, classes and functions are left as
// written.
//
// cfengine imports nothing else of logtally's.
package cfengine

import "fmt"

// Pos is a position in a policy file; Line and Col are 1-based, Col
// counts bytes.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Col == 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Policy is the content of one or more policy files.
type Policy struct {
	Bundles []*Bundle
	Bodies  []*Body
	// Notes are what the parser assumed rather than read, such as the
	// branch it kept of an @if macro.
	Notes []Note
}

// Note is something the parser assumed, at a position.
type Note struct {
	Pos Pos
	Msg string
}

// Bundle is `bundle TYPE NAME(PARAMS) { ... }`.
type Bundle struct {
	Pos      Pos
	Type     string // agent, monitor, common, edit_line, ...
	Name     string
	Params   []string
	Sections []*Section
}

// Section is the promises of one promise type in a bundle, such as
// `measurements:`. A type written twice in a bundle gives two sections.
type Section struct {
	Pos      Pos
	Type     string
	Promises []*Promise
}

// Promise is one promise: `"promiser" -> promisee attr => value, ...;`.
type Promise struct {
	Pos      Pos
	Guard    string // the class guard in force: "any" when none
	GuardPos Pos    // where the guard was written; zero for "any"
	Promiser string
	Promisee *Value // nil when there is none
	Attrs    []*Attr
}

// Attr returns the promise's first attribute named name, or nil.
func (p *Promise) Attr(name string) *Attr { return findAttr(p.Attrs, name) }

// Body is `body TYPE NAME(PARAMS) { ... }`, or a custom promise block
// `promise TYPE NAME { ... }` (Kind "promise").
type Body struct {
	Pos    Pos
	Kind   string // "body" or "promise"
	Type   string // match_value, action, classes, common, control, ...
	Name   string
	Params []string
	Attrs  []*Attr
}

// Attr returns the body's first attribute named name, or nil.
func (b *Body) Attr(name string) *Attr { return findAttr(b.Attrs, name) }

// Attr is one `name => value` of a promise or a body.
type Attr struct {
	Pos      Pos
	Guard    string // bodies only: the class guard in force, "any" when none
	GuardPos Pos
	Name     string
	Value    *Value
}

func findAttr(attrs []*Attr, name string) *Attr {
	for _, a := range attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Kind is the kind of a Value.
type Kind uint8

// Kinds of values.
const (
	String Kind = iota // a quoted string; Text is its content, escapes undone
	Ident              // an identifier, such as a body name: Text
	Var                // a bare variable reference, $(x), ${x} or @(x): Text as written
	List               // { a, b }: Items
	Call               // f(a, b): Text is the function's name, Items its arguments
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Ident:
		return "identifier"
	case Var:
		return "variable"
	case List:
		return "list"
	case Call:
		return "function call"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is the right-hand side of an attribute, an element of a list or
// an argument of a call.
type Value struct {
	Pos   Pos
	Kind  Kind
	Text  string
	Items []*Value
}
