package board

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
)

//go:embed profiles/*.json
var profileFiles embed.FS

var (
	loadOnce sync.Once
	builtin  []*Profile
	loadErr  error
)

// builtins parses the embedded profiles once. A bad embedded file is a
// programming error the table test catches; at run time it is reported as
// an error from ByName and All, never a panic.
func builtins() ([]*Profile, error) {
	loadOnce.Do(func() {
		names, err := fs.Glob(profileFiles, "profiles/*.json")
		if err != nil {
			loadErr = err
			return
		}
		seen := map[string]string{}
		for _, n := range names {
			b, err := profileFiles.ReadFile(n)
			if err != nil {
				loadErr = err
				return
			}
			p, err := parse(b)
			if err != nil {
				loadErr = fmt.Errorf("built-in %s: %w", n, err)
				return
			}
			if want := strings.TrimSuffix(path.Base(n), ".json"); p.Name != want {
				loadErr = fmt.Errorf("built-in %s: name %q: want %q, the file's name", n, p.Name, want)
				return
			}
			if other, dup := seen[p.Name]; dup {
				loadErr = fmt.Errorf("built-in %s: name %q: also in %s", n, p.Name, other)
				return
			}
			seen[p.Name] = n
			builtin = append(builtin, p)
		}
		slices.SortFunc(builtin, func(a, b *Profile) int { return strings.Compare(a.Name, b.Name) })
	})
	return builtin, loadErr
}

// All returns copies of every built-in profile, sorted by name.
func All() ([]*Profile, error) {
	ps, err := builtins()
	if err != nil {
		return nil, err
	}
	out := make([]*Profile, len(ps))
	for i, p := range ps {
		out[i] = p.Clone()
	}
	return out, nil
}

// ErrUnknown is returned (wrapped) by ByName for a name no profile has.
var ErrUnknown = errors.New("unknown board profile")

// ByName returns a copy of the built-in profile called name.
func ByName(name string) (*Profile, error) {
	ps, err := builtins()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p.Clone(), nil
		}
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknown, name, strings.Join(names, ", "))
}

// ModelPath is where Linux exposes the board's device-tree model.
const ModelPath = "/proc/device-tree/model"

// ReadModel reads the device-tree model through read (os.ReadFile in the
// agent, a fixture in tests) and returns it without the trailing NUL the
// kernel writes and without surrounding space.
func ReadModel(read func(name string) ([]byte, error), name string) (string, error) {
	b, err := read(name)
	if err != nil {
		return "", fmt.Errorf("read board model: %w", err)
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b)), nil
}

// Detect returns copies of the built-in profiles whose detect patterns occur
// in model (the device-tree model, e.g. "Raspberry Pi 4 Model B Rev 1.4"),
// in name order. Several HATs fit the same computer, so more than one may
// match: the agent takes the profile from NESS_AGENT_BOARD and uses Detect to
// check it or to suggest one.
func Detect(model string) ([]*Profile, error) {
	ps, err := builtins()
	if err != nil {
		return nil, err
	}
	model = strings.TrimRight(model, "\x00 \n")
	var out []*Profile
	for _, p := range ps {
		for _, d := range p.Detect {
			if model != "" && strings.Contains(model, d) {
				out = append(out, p.Clone())
				break
			}
		}
	}
	return out, nil
}

// ResolvePort turns a slot's port into one device path: a plain name is
// returned as it is; a glob (by-path and by-id names that differ between
// hosts) must match exactly one file. glob is filepath.Glob in the agent.
func ResolvePort(port string, glob func(pattern string) ([]string, error)) (string, error) {
	if !strings.ContainsAny(port, "*?[") {
		return port, nil
	}
	m, err := glob(port)
	if err != nil {
		return "", fmt.Errorf("port %q: %w", port, err)
	}
	switch len(m) {
	case 0:
		return "", fmt.Errorf("port %q: no device matches (modem not connected yet?)", port)
	case 1:
		return m[0], nil
	}
	return "", fmt.Errorf("port %q: %d devices match (%s); name one in NESS_AGENT_PORTS", port, len(m), strings.Join(m, ", "))
}

// SlotsText describes a profile's slot count for people: "4", or
// "1-32 (per port)" for a templated profile.
func (p *Profile) SlotsText() string {
	if p.SlotTemplate != nil {
		return fmt.Sprintf("1-%d (per port)", p.SlotTemplate.MaxSlots)
	}
	return fmt.Sprint(len(p.Slots))
}

// WriteTable writes the profiles as a table of name, slots and description,
// the output of `ness-agent boards`.
func WriteTable(w io.Writer, ps []*Profile) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSLOTS\tDESCRIPTION")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.SlotsText(), p.Description)
	}
	return tw.Flush()
}
