//go:build linux

package power

import (
	"fmt"
	"strings"
	"sync"

	"github.com/warthog618/go-gpiocdev"
)

// GPIOOpener opens lines on Linux GPIO character devices (/dev/gpiochipN)
// with go-gpiocdev. Outputs are requested already driven to their initial
// level, so start-up never glitches a power key; active_low lines are
// requested inverted, so the Controller works in logical values only.
//
// A line that names its chip by label (the Raspberry Pi 5 header is
// "pinctrl-rp1", gpiochip4 on older kernels, gpiochip0 on newer) is resolved
// when opened: the first label in the line's list that some chip carries wins.
type GPIOOpener struct {
	consumer string

	// Seams for tests; the real ones list /dev and ask the kernel.
	chips   func() []string
	label   func(chip string) (string, error)
	request func(chip string, offset int, opts ...gpiocdev.LineReqOption) (Line, error)

	mu     sync.Mutex
	labels map[string]string // chip name → label, filled on first use
}

// NewGPIOOpener returns an opener that requests lines under consumer (shown
// by gpioinfo, e.g. "ness-agent"). It opens nothing until Open is called.
func NewGPIOOpener(consumer string) *GPIOOpener {
	return &GPIOOpener{
		consumer: consumer,
		chips:    gpiocdev.Chips,
		label: func(name string) (string, error) {
			c, err := gpiocdev.NewChip(name)
			if err != nil {
				return "", err
			}
			defer c.Close()
			return c.Label, nil
		},
		request: func(chip string, offset int, opts ...gpiocdev.LineReqOption) (Line, error) {
			return gpiocdev.RequestLine(chip, offset, opts...)
		},
	}
}

// Open requests one line.
func (g *GPIOOpener) Open(req Request) (Line, error) {
	chip, err := g.ResolveChip(req.Line.Chip, req.Line.ChipLabels)
	if err != nil {
		return nil, err
	}
	l, err := g.request(chip, req.Line.Offset, lineOptions(g.consumer, req)...)
	if err != nil {
		return nil, fmt.Errorf("request %s line %d: %w", chip, req.Line.Offset, err)
	}
	return l, nil
}

// lineOptions are the gpiocdev options for a request: consumer, polarity,
// and direction with the initial output level.
func lineOptions(consumer string, req Request) []gpiocdev.LineReqOption {
	opts := []gpiocdev.LineReqOption{gpiocdev.WithConsumer(consumer)}
	if req.Line.ActiveLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	if req.Output {
		opts = append(opts, gpiocdev.AsOutput(req.Initial))
	} else {
		opts = append(opts, gpiocdev.AsInput)
	}
	return opts
}

// ResolveChip returns the chip device name for a line: chip itself when
// set, else the first chip whose label is in labels (in the labels' order).
func (g *GPIOOpener) ResolveChip(chip string, labels []string) (string, error) {
	if chip != "" {
		return chip, nil
	}
	if len(labels) == 0 {
		return "", fmt.Errorf("line names no chip and no chip labels")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.labels == nil {
		g.labels = map[string]string{}
		for _, name := range g.chips() {
			l, err := g.label(name)
			if err != nil {
				continue // a chip we cannot open cannot be ours either
			}
			g.labels[name] = l
		}
	}
	for _, want := range labels {
		for _, name := range g.chips() {
			if l, ok := g.labels[name]; ok && l == want {
				return name, nil
			}
		}
	}
	var seen []string
	for _, name := range g.chips() {
		if l, ok := g.labels[name]; ok {
			seen = append(seen, name+"="+l)
		}
	}
	return "", fmt.Errorf("no GPIO chip labelled %s (chips: %s)", strings.Join(labels, " or "), orNone(seen))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
