package main

import (
	"fmt"
	"io"
	"path/filepath"

	"go.bug.st/serial"

	"github.com/ness-network/ness-sms/board"
)

// serialOpener opens AT ports with go.bug.st/serial. It resolves the profile's port (a path, a
// symlink such as ness-modemsim's DIR/slotN, or a by-path/by-id glob) on every call, so a USB
// modem that re-enumerates under another ttyUSB number is found again.
type serialOpener struct {
	glob func(pattern string) ([]string, error) // filepath.Glob
}

func (o serialOpener) OpenPort(port string, baud int) (io.ReadWriteCloser, string, error) {
	glob := o.glob
	if glob == nil {
		glob = filepath.Glob
	}
	dev, err := board.ResolvePort(port, glob)
	if err != nil {
		return nil, "", err
	}
	if target, err := filepath.EvalSymlinks(dev); err == nil {
		dev = target
	}
	p, err := serial.Open(dev, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", dev, err)
	}
	return p, dev, nil
}
