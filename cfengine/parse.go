package cfengine

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxNesting bounds the nesting of lists and function calls, as
// CFEngine's CF_MAX_NESTING does.
const maxNesting = 10

// MaxFileSize bounds the bytes of one policy file ParseFile reads.
const MaxFileSize = 16 << 20

// ParseFile reads and parses one policy file.
func ParseFile(name string) (*Policy, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Pos: Pos{File: name, Line: 1}, Msg: fmt.Sprintf("larger than %d MiB", MaxFileSize>>20)}
	}
	return Parse(name, string(data))
}

// Parse parses the policy text src of the file name. It stops at the
// first syntax error, which it returns as an *Error, with what it parsed
// before it.
func Parse(name, src string) (*Policy, error) {
	p := &parser{lex: newLexer(name, src), pol: &Policy{}}
	err := p.policy()
	p.pol.Notes = p.lex.notes
	if err != nil {
		return p.pol, err
	}
	return p.pol, nil
}

type parser struct {
	lex  *lexer
	tok  token
	peek *token
	pol  *Policy
}

// advance reads the next token into p.tok.
func (p *parser) advance() *Error {
	if p.peek != nil {
		p.tok, p.peek = *p.peek, nil
		return nil
	}
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// lookahead returns the token after p.tok.
func (p *parser) lookahead() (token, *Error) {
	if p.peek == nil {
		t, err := p.lex.next()
		if err != nil {
			return token{}, err
		}
		p.peek = &t
	}
	return *p.peek, nil
}

func (p *parser) unexpected(want string) *Error {
	return &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("expected %s, found %s", want, p.tok.describe())}
}

func (p *parser) isPunct(c string) bool { return p.tok.kind == tokPunct && p.tok.text == c }

// expectPunct consumes the punctuation c.
func (p *parser) expectPunct(c, want string) *Error {
	if !p.isPunct(c) {
		return p.unexpected(want)
	}
	return p.advance()
}

func (p *parser) policy() error {
	if err := p.advance(); err != nil {
		return err
	}
	for p.tok.kind != tokEOF {
		var err *Error
		switch p.tok.kind {
		case tokBundle:
			err = p.bundle()
		case tokBody, tokPromise:
			err = p.body()
		default:
			err = p.unexpected(`"bundle", "body" or "promise"`)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// header reads TYPE NAME(PARAMS) after the block keyword.
func (p *parser) header(what string) (typ, name string, params []string, err *Error) {
	if err = p.advance(); err != nil {
		return
	}
	if p.tok.kind != tokIdent {
		return "", "", nil, p.unexpected(what + " type")
	}
	typ = p.tok.text
	if err = p.advance(); err != nil {
		return
	}
	if p.tok.kind != tokIdent {
		return "", "", nil, p.unexpected(what + " name")
	}
	name = p.tok.text
	if err = p.advance(); err != nil {
		return
	}
	if !p.isPunct("(") {
		return typ, name, nil, nil
	}
	if err = p.advance(); err != nil {
		return
	}
	for !p.isPunct(")") {
		if p.tok.kind != tokIdent {
			return "", "", nil, p.unexpected("a parameter name")
		}
		params = append(params, p.tok.text)
		if err = p.advance(); err != nil {
			return
		}
		if p.isPunct(",") {
			if err = p.advance(); err != nil {
				return
			}
		} else if !p.isPunct(")") {
			return "", "", nil, p.unexpected(`"," or ")"`)
		}
	}
	err = p.advance()
	return typ, name, params, err
}

func (p *parser) bundle() *Error {
	b := &Bundle{Pos: p.tok.pos}
	var err *Error
	if b.Type, b.Name, b.Params, err = p.header("bundle"); err != nil {
		return err
	}
	if err := p.expectPunct("{", `"{"`); err != nil {
		return err
	}
	var sec *Section
	guard, guardPos := "any", Pos{}
	for !p.isPunct("}") {
		switch p.tok.kind {
		case tokTypeGuard:
			sec = &Section{Pos: p.tok.pos, Type: p.tok.text}
			b.Sections = append(b.Sections, sec)
			guard, guardPos = "any", Pos{} // a new section starts unguarded
			if err := p.advance(); err != nil {
				return err
			}
		case tokClassGuard:
			if sec == nil {
				return p.unexpected("a promise type such as \"reports:\" before a class guard")
			}
			guard, guardPos = p.tok.text, p.tok.pos
			if err := p.advance(); err != nil {
				return err
			}
		case tokString:
			if sec == nil {
				return p.unexpected("a promise type such as \"reports:\" before a promise")
			}
			pr, err := p.promise(guard, guardPos)
			if err != nil {
				return err
			}
			sec.Promises = append(sec.Promises, pr)
		case tokEOF:
			return &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("end of file in bundle %s (from %s): \"}\" is missing", b.Name, b.Pos)}
		default:
			return p.unexpected("a promise type, a class guard, a promise or \"}\"")
		}
	}
	p.pol.Bundles = append(p.pol.Bundles, b)
	return p.advance()
}

// promise reads `"promiser" [-> promisee] [attr => value, ...] ;`.
func (p *parser) promise(guard string, guardPos Pos) (*Promise, *Error) {
	pr := &Promise{Pos: p.tok.pos, Guard: guard, GuardPos: guardPos, Promiser: p.tok.text}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokThinArrow {
		if err := p.advance(); err != nil {
			return nil, err
		}
		v, err := p.rval(0)
		if err != nil {
			return nil, err
		}
		pr.Promisee = v
	}
	for !p.isPunct(";") {
		if len(pr.Attrs) > 0 {
			if err := p.expectPunct(",", `"," or ";"`); err != nil {
				return nil, err
			}
		} else if p.tok.kind != tokIdent {
			return nil, p.unexpected(`an attribute or ";"`)
		}
		a, err := p.attr()
		if err != nil {
			return nil, err
		}
		pr.Attrs = append(pr.Attrs, a)
	}
	return pr, p.advance()
}

// attr reads `name => value`.
func (p *parser) attr() (*Attr, *Error) {
	if p.tok.kind != tokIdent {
		return nil, p.unexpected("an attribute name")
	}
	a := &Attr{Pos: p.tok.pos, Name: p.tok.text}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokFatArrow {
		return nil, p.unexpected(`"=>"`)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	v, err := p.rval(0)
	if err != nil {
		return nil, err
	}
	a.Value = v
	return a, nil
}

func (p *parser) body() *Error {
	b := &Body{Pos: p.tok.pos, Kind: p.tok.text}
	var err *Error
	if b.Type, b.Name, b.Params, err = p.header(b.Kind); err != nil {
		return err
	}
	if err := p.expectPunct("{", `"{"`); err != nil {
		return err
	}
	guard, guardPos := "any", Pos{}
	for !p.isPunct("}") {
		switch p.tok.kind {
		case tokClassGuard:
			guard, guardPos = p.tok.text, p.tok.pos
			if err := p.advance(); err != nil {
				return err
			}
		case tokIdent:
			a, err := p.attr()
			if err != nil {
				return err
			}
			a.Guard, a.GuardPos = guard, guardPos
			b.Attrs = append(b.Attrs, a)
			if err := p.expectPunct(";", `";"`); err != nil {
				return err
			}
		case tokEOF:
			return &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("end of file in body %s (from %s): \"}\" is missing", b.Name, b.Pos)}
		default:
			return p.unexpected("an attribute, a class guard or \"}\"")
		}
	}
	p.pol.Bodies = append(p.pol.Bodies, b)
	return p.advance()
}

// rval reads a value: a string, an identifier, a variable, a list or a
// function call.
func (p *parser) rval(depth int) (*Value, *Error) {
	if depth > maxNesting {
		return nil, &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("lists and function calls nested more than %d deep", maxNesting)}
	}
	v := &Value{Pos: p.tok.pos, Text: p.tok.text}
	switch {
	case p.tok.kind == tokString:
		v.Kind = String
		return v, p.advance()
	case p.tok.kind == tokIdent || p.tok.kind == tokVar:
		v.Kind = Ident
		if p.tok.kind == tokVar {
			v.Kind = Var
		}
		next, err := p.lookahead()
		if err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if next.kind == tokPunct && next.text == "(" {
			v.Kind = Call
			items, err := p.items(depth, "(", ")")
			if err != nil {
				return nil, err
			}
			v.Items = items
		}
		return v, nil
	case p.isPunct("{"):
		v.Kind, v.Text = List, ""
		items, err := p.items(depth, "{", "}")
		if err != nil {
			return nil, err
		}
		v.Items = items
		return v, nil
	}
	return nil, p.unexpected("a value (a string, a name, a variable, a list or a function call)")
}

// items reads `open item, item, ... close`, a trailing comma allowed.
func (p *parser) items(depth int, open, close string) ([]*Value, *Error) {
	if err := p.expectPunct(open, fmt.Sprintf("%q", open)); err != nil {
		return nil, err
	}
	var items []*Value
	for !p.isPunct(close) {
		v, err := p.rval(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		if p.isPunct(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
		} else if !p.isPunct(close) {
			return nil, p.unexpected(fmt.Sprintf(`"," or %q`, close))
		}
	}
	return items, p.advance()
}

// Merge adds the bundles, bodies and notes of o to p.
func (p *Policy) Merge(o *Policy) {
	p.Bundles = append(p.Bundles, o.Bundles...)
	p.Bodies = append(p.Bodies, o.Bodies...)
	p.Notes = append(p.Notes, o.Notes...)
}

// Body returns the body of the type and name (a namespace prefix such as
// "default:" is ignored), or nil.
func (p *Policy) Body(typ, name string) *Body {
	name = strings.TrimPrefix(name, "default:")
	for _, b := range p.Bodies {
		if b.Kind == "body" && b.Type == typ && strings.TrimPrefix(b.Name, "default:") == name {
			return b
		}
	}
	return nil
}
