package modemsim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair for one slot. The simulator reads and writes the master; a
// client opens the slave (Name, or the symlink) like a serial port. The simulator keeps the
// slave open too, so the master never sees a hang-up when clients come and go and its reads
// simply block while nobody talks.
type PTY struct {
	master *os.File
	slave  *os.File
	link   string
}

// OpenPTY opens a pseudo-terminal in raw mode and, when link is not empty, points the symlink
// link at its slave (replacing an old symlink there).
func OpenPTY(link string) (*PTY, error) {
	m, sl, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	// creack/pty leaves the master in blocking mode; a non-blocking descriptor lets the Go
	// runtime poll it, so Close wakes a pending Read.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		sl.Close()
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		sl.Close()
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	p := &PTY{master: os.NewFile(uintptr(fd), "/dev/ptmx"), slave: sl}
	if err := makeRaw(int(sl.Fd())); err != nil {
		p.Close()
		return nil, fmt.Errorf("pty %s raw mode: %w", sl.Name(), err)
	}
	if link != "" {
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				p.Close()
				return nil, fmt.Errorf("%s exists and is not a symlink", link)
			}
			os.Remove(link)
		}
		if err := os.Symlink(sl.Name(), link); err != nil {
			p.Close()
			return nil, fmt.Errorf("link %s: %w", link, err)
		}
		p.link = link
	}
	return p, nil
}

// makeRaw sets a terminal to raw 8N1 at 115200 baud, like cfmakeraw(3).
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | unix.B115200
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Name is the slave device path (/dev/pts/N).
func (p *PTY) Name() string { return p.slave.Name() }

// Read reads what a client wrote to the slave.
func (p *PTY) Read(b []byte) (int, error) { return p.master.Read(b) }

// Write sends bytes to the client.
func (p *PTY) Write(b []byte) (int, error) { return p.master.Write(b) }

// Close removes the symlink and closes both ends.
func (p *PTY) Close() error {
	if p.link != "" {
		os.Remove(p.link)
	}
	return errors.Join(p.master.Close(), p.slave.Close())
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ServePTYs gives every slot a pseudo-terminal linked as dir/slotN and serves it until the
// returned Closer is closed.
func (sim *Simulator) ServePTYs(dir string) (io.Closer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var cs closers
	var wg sync.WaitGroup
	for _, s := range sim.slots {
		p, err := OpenPTY(filepath.Join(dir, fmt.Sprintf("slot%d", s.n)))
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("slot %d: %w", s.n, err)
		}
		cs = append(cs, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Serve(p)
			sim.cfg.Logger.Debug("pty closed", "slot", s.n, "err", err)
		}()
	}
	return closerFunc(func() error {
		err := cs.Close()
		wg.Wait()
		return err
	}), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// ServeSockets serves every slot on a unix socket dir/slotN.sock, for an emulator's serial
// device (QEMU: -chardev socket,id=s0,path=DIR/slot0.sock). One client at a time is served per
// slot; a new connection replaces the old one.
func (sim *Simulator) ServeSockets(dir string) (io.Closer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var cs closers
	var wg sync.WaitGroup
	for _, s := range sim.slots {
		path := filepath.Join(dir, fmt.Sprintf("slot%d.sock", s.n))
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path) // stale socket of an earlier run
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("slot %d: %w", s.n, err)
		}
		cs = append(cs, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			var cur net.Conn
			for {
				c, err := l.Accept()
				if err != nil {
					mu.Lock()
					if cur != nil {
						cur.Close()
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				if cur != nil {
					cur.Close()
				}
				cur = c
				mu.Unlock()
				go func() {
					s.Serve(c)
					c.Close()
				}()
			}
		}()
	}
	return closerFunc(func() error {
		err := cs.Close()
		wg.Wait()
		return err
	}), nil
}
