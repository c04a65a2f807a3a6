//go:build linux

package power

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/warthog618/go-gpiocdev"

	"github.com/ness-network/ness-sms/board"
)

// These tests cover the gpiocdev opener's own logic (chip resolution by
// label, request options) through its seams. Requesting real lines needs a
// GPIO chip, which this machine has not (no gpio-sim or gpio-mockup): that is
// left to a hardware check run on a board.

type fakeChip struct {
	name, label string
	broken      bool
}

func fakeGPIO(chips ...fakeChip) *GPIOOpener {
	g := NewGPIOOpener("ness-agent")
	g.chips = func() []string {
		var names []string
		for _, c := range chips {
			names = append(names, c.name)
		}
		return names
	}
	g.label = func(name string) (string, error) {
		for _, c := range chips {
			if c.name == name && !c.broken {
				return c.label, nil
			}
		}
		return "", errors.New("permission denied")
	}
	return g
}

var piLabels = []string{"pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"}

func TestResolveChip(t *testing.T) {
	tests := []struct {
		name    string
		chips   []fakeChip
		chip    string
		labels  []string
		want    string
		wantErr string
	}{
		{"by name", nil, "gpiochip2", nil, "gpiochip2", ""},
		// Pi 5, kernels before 6.6.45: the RP1 header bank is gpiochip4.
		{"pi5 old kernel", []fakeChip{{"gpiochip0", "gpio-brcmstb@107d508500", false}, {"gpiochip1", "gpio-brcmstb@107d508b00", false},
			{"gpiochip2", "gpio-brcmstb@107d517c00", false}, {"gpiochip3", "gpio-brcmstb@107d517c20", false}, {"gpiochip4", "pinctrl-rp1", false}},
			"", piLabels, "gpiochip4", ""},
		// Pi 5, newer kernels: the header is gpiochip0.
		{"pi5 new kernel", []fakeChip{{"gpiochip0", "pinctrl-rp1", false}, {"gpiochip10", "gpio-brcmstb@107d508500", false}},
			"", piLabels, "gpiochip0", ""},
		{"pi4", []fakeChip{{"gpiochip0", "pinctrl-bcm2711", false}, {"gpiochip1", "raspberrypi-exp-gpio", false}}, "", piLabels, "gpiochip0", ""},
		{"pi3 with an expander", []fakeChip{{"gpiochip0", "pinctrl-bcm2835", false}, {"gpiochip1", "raspberrypi-exp-gpio", false}, {"gpiochip2", "mcp23017", false}},
			"", piLabels, "gpiochip0", ""},
		{"label order wins over chip order", []fakeChip{{"gpiochip0", "pinctrl-bcm2835", false}, {"gpiochip4", "pinctrl-rp1", false}},
			"", piLabels, "gpiochip4", ""},
		{"unreadable chip skipped", []fakeChip{{"gpiochip0", "pinctrl-rp1", true}, {"gpiochip1", "pinctrl-bcm2711", false}},
			"", piLabels, "gpiochip1", ""},
		{"no match", []fakeChip{{"gpiochip0", "gpio-mockup-A", false}}, "", piLabels, "",
			"no GPIO chip labelled pinctrl-rp1 or pinctrl-bcm2711 or pinctrl-bcm2835 (chips: gpiochip0=gpio-mockup-A)"},
		{"no chips", nil, "", piLabels, "", "(chips: none)"},
		{"nothing named", nil, "", nil, "", "names no chip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := fakeGPIO(tt.chips...)
			got, err := g.ResolveChip(tt.chip, tt.labels)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveChip(%q, %q): got %q, %v; want error containing %q", tt.chip, tt.labels, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveChip(%q, %q): got %q, %v; want %q", tt.chip, tt.labels, got, err, tt.want)
			}
		})
	}
}

func TestLineOptions(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want []gpiocdev.LineReqOption
	}{
		{"power key idle low", Request{Role: board.RolePowerKey, Output: true, Initial: 0},
			[]gpiocdev.LineReqOption{gpiocdev.WithConsumer("ness-agent"), gpiocdev.AsOutput(0)}},
		{"active-low enable driven active", Request{Role: board.RoleEnable, Line: board.Line{ActiveLow: true}, Output: true, Initial: 1},
			[]gpiocdev.LineReqOption{gpiocdev.WithConsumer("ness-agent"), gpiocdev.AsActiveLow, gpiocdev.AsOutput(1)}},
		{"status input", Request{Role: board.RoleStatus},
			[]gpiocdev.LineReqOption{gpiocdev.WithConsumer("ness-agent"), gpiocdev.AsInput}},
	}
	for _, tt := range tests {
		if got := lineOptions("ness-agent", tt.req); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: lineOptions: got %#v, want %#v", tt.name, got, tt.want)
		}
	}
}

func TestGPIOOpenRequestsResolvedChip(t *testing.T) {
	g := fakeGPIO(fakeChip{"gpiochip4", "pinctrl-rp1", false})
	var gotChip string
	var gotOffset, gotOpts int
	g.request = func(chip string, offset int, opts ...gpiocdev.LineReqOption) (Line, error) {
		gotChip, gotOffset, gotOpts = chip, offset, len(opts)
		return nil, errors.New("device busy")
	}
	_, err := g.Open(Request{Role: board.RolePowerKey, Line: board.Line{ChipLabels: piLabels, Offset: 6}, Output: true})
	if gotChip != "gpiochip4" || gotOffset != 6 || gotOpts != 2 {
		t.Errorf("request: got (%s, %d, %d options), want (gpiochip4, 6, 2 options)", gotChip, gotOffset, gotOpts)
	}
	if err == nil || !strings.Contains(err.Error(), "request gpiochip4 line 6: device busy") {
		t.Errorf("Open: got %v, want the request error naming chip and line", err)
	}
	if _, err := fakeGPIO().Open(Request{Line: board.Line{ChipLabels: []string{"x"}}}); err == nil {
		t.Errorf("Open with an unknown label: got nil error, want one")
	}
}

// The real opener, on a chip no machine has: the error names chip and line.
func TestGPIOOpenerMissingChip(t *testing.T) {
	g := NewGPIOOpener("ness-agent-test")
	_, err := g.Open(Request{Role: board.RoleStatus, Line: board.Line{Chip: "gpiochip999", Offset: 3}})
	if err == nil || !strings.Contains(err.Error(), "request gpiochip999 line 3") {
		t.Errorf("Open(gpiochip999): got %v, want an error naming the chip and line", err)
	}
}
