package query

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on a filter (OWASP API4: unrestricted resource consumption). A
// filter is compiled into one WHERE clause, so its size bounds both the
// parser's work and the database's.
const (
	MaxFilterBytes       = 2000
	MaxFilterComparisons = 50
	MaxFilterDepth       = 10 // nested parentheses
)

// Expr is a parsed filter: *And, *Or, *Not or *Comparison.
type Expr interface{ exprNode() }

// And holds terms that must all match (AND, or terms next to each other).
type And struct{ Terms []Expr }

// Or holds terms of which one must match.
type Or struct{ Terms []Expr }

// Not negates X (NOT or a leading "-").
type Not struct{ X Expr }

// Comparison is "field op value". Pos is the offset of the field name in
// the filter, in characters from 0, kept so compile errors can say where
// they are.
type Comparison struct {
	Field string
	Op    Op
	Value Value
	Pos   int
}

// Op is a comparison operator as written in the filter.
type Op string

// The supported operators; AIP-160's ":" (has) is not supported.
const (
	Eq Op = "="
	Ne Op = "!="
	Lt Op = "<"
	Le Op = "<="
	Gt Op = ">"
	Ge Op = ">="
)

// ValueType says how a literal was written, which decides the field kinds
// it may be compared with.
type ValueType int

// The literal forms.
const (
	StringValue ValueType = iota + 1 // "…", unescaped in Text
	NumberValue                      // -?digits(.digits)?
	BoolValue                        // true or false
)

// Value is a literal; Pos is its offset in the filter, in characters from 0.
type Value struct {
	Type ValueType
	Text string
	Pos  int
}

func (*And) exprNode()        {}
func (*Or) exprNode()         {}
func (*Not) exprNode()        {}
func (*Comparison) exprNode() {}

// filterError is a syntax error at a byte offset of the filter. It reports
// the position in characters, counted from 1, because that is what a person
// or a text field counts.
func filterError(src string, off int, format string, args ...any) error {
	if off >= len(src) {
		return badRequest("filter", "%s (at end of filter)", fmt.Sprintf(format, args...))
	}
	return compileError(utf8.RuneCountInString(src[:off]), format, args...)
}

// compileError is an error at a character offset (from 0) of the filter.
func compileError(chars int, format string, args ...any) error {
	return badRequest("filter", "%s (at character %d)", fmt.Sprintf(format, args...), chars+1)
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tMinus
)

type token struct {
	kind tokenKind
	text string // the identifier, operator, number, or unescaped string
	pos  int
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits the filter into tokens. The caller has checked the length and
// UTF-8, so every branch here works on bytes.
func lex(src string, paths bool) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			for i < len(src) && (isIdentChar(src[i]) || (paths && src[i] == '.' && i+1 < len(src) && isIdentStart(src[i+1]))) {
				i++
			}
			if i < len(src) && src[i] == '.' {
				return nil, filterError(src, i, "field traversal with '.' is not supported")
			}
			toks = append(toks, token{tIdent, src[start:i], start})
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			i++
			// Take the whole run a client meant as one literal ("1e5",
			// "1.2.3", "12abc") so the error names all of it.
			for i < len(src) && (isIdentChar(src[i]) || src[i] == '.') {
				i++
			}
			if !isNumber(src[start:i]) {
				return nil, filterError(src, start, "%s is not a number; write numbers like 12 or -3.75", quote(src[start:i]))
			}
			toks = append(toks, token{tNumber, src[start:i], start})
		case c == '"':
			s, next, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, start})
			i = next
		case c == '=':
			i++
			if i < len(src) && src[i] == '=' {
				return nil, filterError(src, start, "'==' is not an operator; use '='")
			}
			toks = append(toks, token{tOp, "=", start})
		case c == '!':
			if i+1 < len(src) && src[i+1] == '=' {
				i += 2
				toks = append(toks, token{tOp, "!=", start})
				break
			}
			return nil, filterError(src, start, "'!' is not an operator; use '!=' or NOT")
		case c == '<' || c == '>':
			i++
			if i < len(src) && src[i] == '=' {
				i++
			} else if c == '<' && i < len(src) && src[i] == '>' {
				return nil, filterError(src, start, "'<>' is not an operator; use '!='")
			}
			toks = append(toks, token{tOp, src[start:i], start})
		case c == '(':
			i++
			toks = append(toks, token{tLParen, "(", start})
		case c == ')':
			i++
			toks = append(toks, token{tRParen, ")", start})
		case c == '-':
			i++
			toks = append(toks, token{tMinus, "-", start})
		case c == ':':
			return nil, filterError(src, start, "the ':' (has) operator is not supported; use '='")
		case c == '\'':
			return nil, filterError(src, start, "strings must be in double quotes")
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, filterError(src, start, "unexpected character %q", r)
		}
	}
	return append(toks, token{tEOF, "", len(src)}), nil
}

// isNumber reports whether s is -?digits(.digits)?, the only number form:
// no exponent, sign "+", or bare dot, so each value has one spelling.
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// lexString reads a double-quoted string starting at src[start] and returns
// its unescaped text and the offset after the closing quote.
func lexString(src string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		switch c := src[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\\') {
				b.WriteByte(src[i+1])
				i += 2
				continue
			}
			return "", 0, filterError(src, i, `unknown escape in string; only \" and \\ are allowed`)
		case 0:
			// PostgreSQL cannot store NUL in text, so a NUL would surface
			// as a database error (500) instead of an answer.
			return "", 0, filterError(src, i, "strings may not contain NUL characters")
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, filterError(src, start, "string is not closed; add a '\"'")
}

// ParseFilter parses an AIP-160 filter. An empty or blank filter returns a
// nil Expr, which CompileFilter turns into no condition. Precedence, from
// loosest to tightest: AND, then terms side by side (also AND), then OR,
// then NOT / "-"; so "a AND b OR c" is "a AND (b OR c)".
func ParseFilter(s string) (Expr, error) { return parseFilter(s, false) }

// ParsePathFilter parses a filter whose field names may traverse objects
// with '.' (data.status = "paid"), for filters evaluated over documents
// rather than compiled to SQL (automation conditions).
func ParsePathFilter(s string) (Expr, error) { return parseFilter(s, true) }

func parseFilter(s string, paths bool) (Expr, error) {
	if len(s) > MaxFilterBytes {
		return nil, badRequest("filter", "the filter is %d bytes long; at most %d are allowed", len(s), MaxFilterBytes)
	}
	if !utf8.ValidString(s) {
		off := 0
		for off < len(s) {
			r, n := utf8.DecodeRuneInString(s[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, filterError(s, off, "the filter is not valid UTF-8")
	}
	toks, err := lex(s, paths)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	e, err := p.expression()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tEOF:
		return e, nil
	case tRParen:
		return nil, filterError(s, t.pos, "')' has no matching '('")
	default:
		return nil, filterError(s, t.pos, "unexpected %s", describe(t))
	}
}

type parser struct {
	src         string
	toks        []token
	i           int
	depth       int
	comparisons int
}

// chars converts a byte offset into the character offset the AST keeps.
func (p *parser) chars(off int) int { return utf8.RuneCountInString(p.src[:off]) }

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (t token) isKeyword(kw string) bool { return t.kind == tIdent && t.text == kw }

func (t token) isAnyKeyword() bool {
	return t.isKeyword("AND") || t.isKeyword("OR") || t.isKeyword("NOT")
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return "string " + quote(t.text)
	case tIdent:
		return quote(t.text)
	default:
		return "'" + t.text + "'"
	}
}

// expression: sequence {AND sequence}
func (p *parser) expression() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.sequence()
		if err != nil {
			return nil, err
		}
		terms = appendFlat(terms, e, false)
		if !p.peek().isKeyword("AND") {
			break
		}
		p.next()
	}
	return group(terms, func(t []Expr) Expr { return &And{Terms: t} }), nil
}

// sequence: factor {factor}; terms side by side mean AND.
func (p *parser) sequence() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.factor()
		if err != nil {
			return nil, err
		}
		terms = appendFlat(terms, e, false)
		t := p.peek()
		startsTerm := t.kind == tLParen || t.kind == tMinus || (t.kind == tIdent && !t.isKeyword("AND") && !t.isKeyword("OR"))
		if !startsTerm {
			break
		}
	}
	return group(terms, func(t []Expr) Expr { return &And{Terms: t} }), nil
}

// factor: term {OR term}
func (p *parser) factor() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = appendFlat(terms, e, true)
		if !p.peek().isKeyword("OR") {
			break
		}
		p.next()
	}
	return group(terms, func(t []Expr) Expr { return &Or{Terms: t} }), nil
}

// term: [NOT | "-"] simple
func (p *parser) term() (Expr, error) {
	if t := p.peek(); t.isKeyword("NOT") || t.kind == tMinus {
		p.next()
		if n := p.peek(); n.isKeyword("NOT") || n.kind == tMinus {
			return nil, filterError(p.src, n.pos, "a negation cannot be negated again without parentheses")
		}
		x, err := p.simple()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	return p.simple()
}

// simple: "(" expression ")" | field op value
func (p *parser) simple() (Expr, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		if p.depth >= MaxFilterDepth {
			return nil, filterError(p.src, t.pos, "parentheses are nested more than %d deep", MaxFilterDepth)
		}
		if p.peek().kind == tRParen {
			return nil, filterError(p.src, t.pos, "empty parentheses")
		}
		p.depth++
		e, err := p.expression()
		if err != nil {
			return nil, err
		}
		p.depth--
		if c := p.peek(); c.kind != tRParen {
			return nil, filterError(p.src, c.pos, "expected ')' to close the '(' at character %d, found %s",
				utf8.RuneCountInString(p.src[:t.pos])+1, describe(c))
		}
		p.next()
		return e, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (Expr, error) {
	f := p.next()
	switch {
	case f.isAnyKeyword():
		return nil, filterError(p.src, f.pos, "expected a comparison, found %s", f.text)
	case f.kind == tIdent && (f.text == "and" || f.text == "or" || f.text == "not"):
		return nil, filterError(p.src, f.pos, "AND, OR and NOT must be written in upper case")
	case f.kind != tIdent:
		return nil, filterError(p.src, f.pos, "expected a field name, found %s", describe(f))
	}
	op := p.next()
	if op.kind != tOp {
		return nil, filterError(p.src, op.pos, "expected a comparison operator (= != < <= > >=) after field %s, found %s",
			quote(f.text), describe(op))
	}
	v := p.next()
	var val Value
	switch {
	case v.kind == tString:
		val = Value{StringValue, v.text, p.chars(v.pos)}
	case v.kind == tNumber:
		val = Value{NumberValue, v.text, p.chars(v.pos)}
	case v.kind == tIdent && (v.text == "true" || v.text == "false"):
		val = Value{BoolValue, v.text, p.chars(v.pos)}
	case v.kind == tIdent:
		return nil, filterError(p.src, v.pos, "expected a value after %s, found %s; write text in double quotes", op.text, describe(v))
	default:
		return nil, filterError(p.src, v.pos, "expected a value after %s, found %s", op.text, describe(v))
	}
	p.comparisons++
	if p.comparisons > MaxFilterComparisons {
		return nil, filterError(p.src, f.pos, "the filter has more than %d comparisons", MaxFilterComparisons)
	}
	return &Comparison{Field: f.text, Op: Op(op.text), Value: val, Pos: p.chars(f.pos)}, nil
}

// appendFlat appends e to terms, splicing in e's own terms when it is the
// same connective, so "a b AND c" is one And of three, not a nest.
func appendFlat(terms []Expr, e Expr, or bool) []Expr {
	switch n := e.(type) {
	case *And:
		if !or {
			return append(terms, n.Terms...)
		}
	case *Or:
		if or {
			return append(terms, n.Terms...)
		}
	}
	return append(terms, e)
}

func group(terms []Expr, mk func([]Expr) Expr) Expr {
	if len(terms) == 1 {
		return terms[0]
	}
	return mk(terms)
}
