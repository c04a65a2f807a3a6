package modemsim

import (
	"errors"
	"fmt"
	"strings"
)

// CommandKind says which form of an AT command was given.
type CommandKind int

// The forms of an AT command (ITU-T V.250): ATE0 and AT+CGMI are actions, AT+CMGF? a read,
// AT+CMGF=? a test and AT+CMGF=1 a set.
const (
	Action CommandKind = iota
	Read
	Test
	Set
)

func (k CommandKind) String() string {
	switch k {
	case Action:
		return "action"
	case Read:
		return "read"
	case Test:
		return "test"
	case Set:
		return "set"
	}
	return fmt.Sprintf("CommandKind(%d)", int(k))
}

// Command is one command from an AT command line.
type Command struct {
	// Name is upper case: "E", "&F", "S7" for basic commands, "+CMGL" for extended ones.
	Name string
	Kind CommandKind
	// Value is the number after a basic command (ATE0 → "0", ATS7=60 → "60"), or "" if none.
	Value string
	// Args are the parameters of a set command, unquoted; Quoted says which were in quotes.
	Args   []string
	Quoted []bool
}

// MaxLineLength is the longest command line accepted, in bytes.
const MaxLineLength = 1024

// ErrNoPrefix is returned for a line that does not start with AT: a modem ignores it.
var ErrNoPrefix = errors.New("command line does not start with AT")

// ParseLine splits one command line (without its terminating CR) into commands. Leading white
// space is ignored. A line that does not start with "AT" (any case) gives ErrNoPrefix; a line
// that is malformed gives another error, and the modem answers it with ERROR.
func ParseLine(line string) ([]Command, error) {
	line = strings.TrimLeft(line, " \t\n\x00")
	if len(line) > MaxLineLength {
		return nil, fmt.Errorf("command line longer than %d bytes", MaxLineLength)
	}
	if len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		return nil, ErrNoPrefix
	}
	rest := line[2:]
	var cmds []Command
	for i := 0; i < len(rest); {
		c := rest[i]
		switch {
		case c == ' ' || c == ';' || c == '\t':
			i++
		case c == '+' || c == '^' || c == '$' || c == '#' || c == '*':
			j := i + 1
			for j < len(rest) && isNameChar(rest[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("offset %d: empty extended command name", i+2)
			}
			cmd := Command{Name: strings.ToUpper(rest[i:j])}
			i = j
			switch {
			case strings.HasPrefix(rest[i:], "=?"):
				cmd.Kind = Test
				i += 2
			case strings.HasPrefix(rest[i:], "?"):
				cmd.Kind = Read
				i++
			case strings.HasPrefix(rest[i:], "="):
				cmd.Kind = Set
				end, err := argsEnd(rest, i+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", cmd.Name, err)
				}
				cmd.Args, cmd.Quoted, err = splitArgs(rest[i+1 : end])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", cmd.Name, err)
				}
				i = end
			default:
				cmd.Kind = Action
			}
			if i < len(rest) && rest[i] != ';' {
				return nil, fmt.Errorf("%s: unexpected %q after command", cmd.Name, rest[i])
			}
			cmds = append(cmds, cmd)
		case isLetter(c) || c == '&' || c == '\\':
			j := i + 1
			if c == '&' || c == '\\' {
				if j >= len(rest) || !isLetter(rest[j]) {
					return nil, fmt.Errorf("offset %d: %q must be followed by a letter", i+2, c)
				}
				j++
			}
			cmd := Command{Name: strings.ToUpper(rest[i:j])}
			if cmd.Name == "S" {
				k := j
				for k < len(rest) && isDigit(rest[k]) {
					k++
				}
				if k == j {
					return nil, fmt.Errorf("offset %d: S needs a register number", i+2)
				}
				cmd.Name = "S" + rest[j:k]
				j = k
			}
			switch {
			case strings.HasPrefix(rest[j:], "=?"):
				cmd.Kind = Test
				j += 2
			case strings.HasPrefix(rest[j:], "?"):
				cmd.Kind = Read
				j++
			case strings.HasPrefix(rest[j:], "="):
				cmd.Kind = Set
				j++
				k := j
				for k < len(rest) && isDigit(rest[k]) {
					k++
				}
				cmd.Value = rest[j:k]
				j = k
			default:
				k := j
				for k < len(rest) && isDigit(rest[k]) {
					k++
				}
				cmd.Value = rest[j:k]
				j = k
			}
			cmds = append(cmds, cmd)
			i = j
		default:
			return nil, fmt.Errorf("offset %d: unexpected %q", i+2, c)
		}
	}
	return cmds, nil
}

// argsEnd returns the index of the ';' that ends the arguments starting at i, or len(s).
func argsEnd(s string, i int) (int, error) {
	inQuote := false
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				return i, nil
			}
		}
	}
	if inQuote {
		return 0, errors.New("unterminated quoted string")
	}
	return len(s), nil
}

// splitArgs splits comma-separated parameters; quoted ones lose their quotes.
func splitArgs(s string) ([]string, []bool, error) {
	var args []string
	var quoted []bool
	for {
		s = strings.TrimLeft(s, " ")
		var arg string
		q := false
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, nil, errors.New("unterminated quoted string")
			}
			arg, q = s[1:1+end], true
			s = strings.TrimLeft(s[2+end:], " ")
			if s != "" && s[0] != ',' {
				return nil, nil, fmt.Errorf("unexpected %q after quoted string", s[0])
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			arg = strings.TrimSpace(s[:end])
			if strings.ContainsRune(arg, '"') {
				return nil, nil, fmt.Errorf("stray quote in parameter %q", arg)
			}
			s = s[end:]
		}
		args = append(args, arg)
		quoted = append(quoted, q)
		if s == "" {
			return args, quoted, nil
		}
		s = s[1:] // the comma
	}
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isNameChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_'
}
