package capture

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// The expressions of capture.video.pipelines: arithmetic over the screen's
// width, height and fps, as the reference evaluates them (it uses gval):
// numbers, strings in quotes, true/false, + - * / %, parentheses, and the
// functions round, floor, ceil, abs, min and max.

var (
	errSyntax     = errors.New("syntax error")
	errUnknownVar = errors.New("unknown variable")
)

// evalExpr evaluates src with vars. The result is a float64, string or
// bool.
func evalExpr(src string, vars map[string]float64) (any, error) {
	p := &exprParser{src: src, vars: vars}
	p.next()
	v, err := p.sum()
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	if p.tok != tokEOF {
		return nil, fmt.Errorf("expression %q: %w near %q", src, errSyntax, p.text)
	}
	return v, nil
}

// evalNumber evaluates an expression that must give a number.
func evalNumber(src string, vars map[string]float64) (float64, error) {
	v, err := evalExpr(src, vars)
	if err != nil {
		return 0, err
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expression %q: not a number", src)
	}
	return f, nil
}

// paramValue renders an encoder parameter: the value of its expression,
// or the text itself when it is not one (cbr, zerolatency, …), as the
// reference does.
func paramValue(src string, vars map[string]float64) string {
	v, err := evalExpr(src, vars)
	if err != nil {
		return strings.TrimSpace(src)
	}
	return formatValue(v)
}

func formatValue(v any) string {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case string:
		return t
	}
	return fmt.Sprint(v)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNum
	tokStr
	tokIdent
	tokOp
	tokBad
)

type exprParser struct {
	src  string
	pos  int
	vars map[string]float64

	tok  tokKind
	text string
	num  float64
}

func (p *exprParser) next() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok, p.text = tokEOF, ""
		return
	}
	start := p.pos
	c := p.src[p.pos]
	switch {
	case c >= '0' && c <= '9' || c == '.':
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.' ||
			p.src[p.pos] == 'e' || p.src[p.pos] == 'E' ||
			(p.src[p.pos] == '-' || p.src[p.pos] == '+') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E')) {
			p.pos++
		}
		p.text = p.src[start:p.pos]
		f, err := strconv.ParseFloat(p.text, 64)
		if err != nil {
			p.tok = tokBad
			return
		}
		p.tok, p.num = tokNum, f
	case c == '_' || unicode.IsLetter(rune(c)):
		for p.pos < len(p.src) && (p.src[p.pos] == '_' || unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos]))) {
			p.pos++
		}
		p.tok, p.text = tokIdent, p.src[start:p.pos]
	case c == '"' || c == '\'' || c == '`':
		end := strings.IndexByte(p.src[p.pos+1:], c)
		if end < 0 {
			p.tok, p.text = tokBad, p.src[start:]
			p.pos = len(p.src)
			return
		}
		p.tok, p.text = tokStr, p.src[p.pos+1:p.pos+1+end]
		p.pos += end + 2
	case strings.IndexByte("+-*/%(),", c) >= 0:
		p.pos++
		p.tok, p.text = tokOp, string(c)
	default:
		p.pos++
		p.tok, p.text = tokBad, string(c)
	}
}

func (p *exprParser) sum() (any, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for p.tok == tokOp && (p.text == "+" || p.text == "-") {
		op := p.text
		p.next()
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		if op == "+" {
			if ls, ok := l.(string); ok {
				if rs, ok := r.(string); ok {
					l = ls + rs
					continue
				}
			}
		}
		a, b, err := numbers(l, r)
		if err != nil {
			return nil, err
		}
		if op == "+" {
			l = a + b
		} else {
			l = a - b
		}
	}
	return l, nil
}

func (p *exprParser) product() (any, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok == tokOp && (p.text == "*" || p.text == "/" || p.text == "%") {
		op := p.text
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b, err := numbers(l, r)
		if err != nil {
			return nil, err
		}
		switch op {
		case "*":
			l = a * b
		case "/":
			if b == 0 {
				return nil, errors.New("division by zero")
			}
			l = a / b
		case "%":
			if b == 0 {
				return nil, errors.New("division by zero")
			}
			l = math.Mod(a, b)
		}
	}
	return l, nil
}

func (p *exprParser) unary() (any, error) {
	if p.tok == tokOp && (p.text == "-" || p.text == "+") {
		neg := p.text == "-"
		p.next()
		v, err := p.unary()
		if err != nil {
			return nil, err
		}
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%w: sign before %v", errSyntax, v)
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (any, error) {
	switch p.tok {
	case tokNum:
		v := p.num
		p.next()
		return v, nil
	case tokStr:
		v := p.text
		p.next()
		return v, nil
	case tokIdent:
		name := p.text
		p.next()
		if p.tok == tokOp && p.text == "(" {
			return p.call(name)
		}
		switch name {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		if v, ok := p.vars[name]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("%w %q", errUnknownVar, name)
	case tokOp:
		if p.text == "(" {
			p.next()
			v, err := p.sum()
			if err != nil {
				return nil, err
			}
			if p.tok != tokOp || p.text != ")" {
				return nil, fmt.Errorf("%w: missing )", errSyntax)
			}
			p.next()
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w near %q", errSyntax, p.text)
}

func (p *exprParser) call(name string) (any, error) {
	p.next() // (
	var args []float64
	for !(p.tok == tokOp && p.text == ")") {
		v, err := p.sum()
		if err != nil {
			return nil, err
		}
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%s: argument %v is not a number", name, v)
		}
		args = append(args, f)
		if p.tok == tokOp && p.text == "," {
			p.next()
			continue
		}
		if !(p.tok == tokOp && p.text == ")") {
			return nil, fmt.Errorf("%w in the arguments of %s", errSyntax, name)
		}
	}
	p.next() // )
	one := func(fn func(float64) float64) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s takes one argument", name)
		}
		return fn(args[0]), nil
	}
	switch name {
	case "round":
		return one(math.Round)
	case "floor":
		return one(math.Floor)
	case "ceil":
		return one(math.Ceil)
	case "abs":
		return one(math.Abs)
	case "min", "max":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s needs arguments", name)
		}
		r := args[0]
		for _, a := range args[1:] {
			if name == "min" {
				r = math.Min(r, a)
			} else {
				r = math.Max(r, a)
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown function %q", name)
}

func numbers(a, b any) (float64, float64, error) {
	x, ok1 := a.(float64)
	y, ok2 := b.(float64)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("%w: arithmetic on %v and %v", errSyntax, a, b)
	}
	return x, y, nil
}
