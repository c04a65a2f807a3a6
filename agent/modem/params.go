package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// field is one comma-separated parameter of an information response.
type field struct {
	Value  string // unquoted text; for a parenthesised list, the text inside
	Quoted bool
	List   bool // was "(...)"
}

// maxFields bounds how many parameters one line may have (a +CLAC line has
// hundreds; nothing we parse needs more than a few dozen).
const maxFields = 1024

// splitFields splits "a,\"b,c\",(1,2)" into fields, honouring double quotes
// and nested parentheses. Quoted text has no escapes in V.250 responses.
func splitFields(s string) ([]field, error) {
	var out []field
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var f field
		switch {
		case i < len(s) && s[i] == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			f = field{Value: s[i+1 : i+1+j], Quoted: true}
			i += j + 2
		case i < len(s) && s[i] == '(':
			depth, j, inq := 0, i, false
			for ; j < len(s); j++ {
				switch {
				case s[j] == '"':
					inq = !inq
				case inq:
				case s[j] == '(':
					depth++
				case s[j] == ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unbalanced parenthesis in %q", s)
			}
			f = field{Value: s[i+1 : j], List: true}
			i = j + 1
		default:
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			f = field{Value: strings.TrimSpace(s[i : i+j])}
			i += j
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		out = append(out, f)
		if len(out) > maxFields {
			return nil, errors.New("too many parameters")
		}
		if i >= len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q at offset %d in %q", s[i], i, s)
		}
		i++
		if i >= len(s) { // trailing comma: one more empty field
			return append(out, field{}), nil
		}
	}
}

// infoFields finds the first line "name: ..." in lines and splits its
// parameters.
func infoFields(lines []string, name string) ([]field, error) {
	for _, l := range lines {
		if rest, ok := cutName(l, name); ok {
			return splitFields(rest)
		}
	}
	return nil, fmt.Errorf("no %s line in answer %q", name, lines)
}

// cutName returns what follows "name:" on line.
func cutName(line, name string) (string, bool) {
	if len(line) <= len(name) || !strings.EqualFold(line[:len(name)], name) || line[len(name)] != ':' {
		return "", false
	}
	return strings.TrimSpace(line[len(name)+1:]), true
}

// atoiField parses a decimal integer field within [lo, hi].
func atoiField(f field, what string, lo, hi int) (int, error) {
	if f.Quoted || f.List {
		return 0, fmt.Errorf("%s: want a number, got %q", what, f.Value)
	}
	if f.Value == "" || len(f.Value) > 9 {
		return 0, fmt.Errorf("%s: want a number, got %q", what, f.Value)
	}
	n, err := strconv.Atoi(f.Value)
	if err != nil {
		return 0, fmt.Errorf("%s: want a number, got %q", what, f.Value)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s: %d out of range %d..%d", what, n, lo, hi)
	}
	return n, nil
}
