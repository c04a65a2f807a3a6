// Package modemtest provides a scripted fake modem for unit tests of code that
// talks to a modem through package modem: a [Fake] is an io.ReadWriteCloser
// that answers each command line it is written with the reply lines a script
// gives for it, frames them the way modems do ("\r\n<line>\r\n"), echoes
// commands until ATE0, and can send unsolicited lines or raw noise at any
// time. It also reads and replays AT transcripts ([ParseTranscript]).
//
// A Fake answers from two tables: Expect adds one-shot exchanges consumed in
// order (a command that does not match the next expected one is recorded in
// Unexpected and answered ERROR), and Answer sets standing replies used when
// no expectation is pending. Commands found in neither get ERROR, as real
// modems answer unknown commands.
package modemtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// NoReply as a reply line makes the fake stay silent for that command (a hung
// modem). Lines after it in the same reply are ignored.
const NoReply = "\x00no-reply"

// Exchange is one command and the lines the modem sends back for it.
type Exchange struct {
	Cmd   string
	Reply []string
}

// Fake is a scripted modem. It is safe for concurrent use.
type Fake struct {
	mu         sync.Mutex
	cond       *sync.Cond
	out        []byte // waiting to be read by the code under test
	in         []byte // partial command line
	echo       bool
	closed     bool
	expect     []Exchange
	answers    map[string][]string
	commands   []string
	unexpected []string
}

// New returns a fake with echo on, as a modem after power-up.
func New() *Fake {
	f := &Fake{echo: true, answers: map[string][]string{}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// SetEcho sets echo; ATE0 and ATE1 also set it unless scripted otherwise.
func (f *Fake) SetEcho(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.echo = on
}

// Answer sets the standing reply for cmd (matched exactly, case-insensitive).
func (f *Fake) Answer(cmd string, reply ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[strings.ToUpper(cmd)] = reply
}

// Expect appends a one-shot exchange to the ordered script.
func (f *Fake) Expect(cmd string, reply ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expect = append(f.expect, Exchange{Cmd: cmd, Reply: reply})
}

// Play appends a transcript's exchanges to the ordered script, and sends its
// leading unsolicited lines at once.
func (f *Fake) Play(t *Transcript) {
	f.Send(t.Leading...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expect = append(f.expect, t.Exchanges...)
}

// Send queues unsolicited lines, framed as the modem frames them.
func (f *Fake) Send(lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lines {
		f.out = append(f.out, "\r\n"+l+"\r\n"...)
	}
	f.cond.Broadcast()
}

// SendRaw queues bytes as they are (noise, partial lines, odd framing).
func (f *Fake) SendRaw(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, b...)
	f.cond.Broadcast()
}

// Commands returns every command line received so far, in order.
func (f *Fake) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

// Unexpected returns commands that arrived while a different one was
// expected.
func (f *Fake) Unexpected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.unexpected...)
}

// Pending returns the expected exchanges not yet consumed.
func (f *Fake) Pending() []Exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Exchange(nil), f.expect...)
}

// Read returns what the modem sent; it blocks until there is something or
// the fake is closed (then io.EOF).
func (f *Fake) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.out) == 0 && !f.closed {
		f.cond.Wait()
	}
	if len(f.out) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// Write takes command bytes; each CR-terminated line is answered.
func (f *Fake) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errors.New("modemtest: write on closed fake")
	}
	for _, b := range p {
		if b == '\r' {
			f.handle(string(f.in))
			f.in = f.in[:0]
			continue
		}
		if b == '\n' && len(f.in) == 0 {
			continue
		}
		f.in = append(f.in, b)
	}
	f.cond.Broadcast()
	return len(p), nil
}

// Close makes Read return io.EOF once the queued bytes are read.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.cond.Broadcast()
	return nil
}

// handle answers one command line. Called with mu held.
func (f *Fake) handle(cmd string) {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" {
		return
	}
	f.commands = append(f.commands, cmd)
	if f.echo {
		f.out = append(f.out, cmd+"\r"...)
	}
	var reply []string
	found := false
	if len(f.expect) > 0 {
		if strings.EqualFold(f.expect[0].Cmd, cmd) {
			reply, found = f.expect[0].Reply, true
			f.expect = f.expect[1:]
		} else {
			f.unexpected = append(f.unexpected, cmd)
			reply, found = []string{"ERROR"}, true
		}
	}
	if !found {
		reply, found = f.answers[strings.ToUpper(cmd)]
	}
	if !found {
		switch strings.ToUpper(cmd) {
		case "ATE0", "ATE1", "AT":
			reply, found = []string{"OK"}, true
		default:
			reply = []string{"ERROR"}
		}
	}
	switch strings.ToUpper(cmd) {
	case "ATE0":
		f.echo = false
	case "ATE1":
		f.echo = true
	}
	for _, l := range reply {
		if l == NoReply {
			break
		}
		f.out = append(f.out, "\r\n"+l+"\r\n"...)
	}
}

// Serve runs the fake over a real port, such as the master side of a
// pseudo-terminal: it answers what it reads from rw and writes replies to
// rw, until rw's Read fails or the fake is closed. It returns the read error.
func (f *Fake) Serve(rw io.ReadWriter) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := rw.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	buf := make([]byte, 256)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// Transcript is a recorded AT conversation.
//
// File format, one item per line:
//
//	# key: value        header (source, project, file, commit, url, note)
//	> AT+CGMI           a command sent to the modem
//	< SIMCOM_Ltd        a line the modem answered (belongs to the last command)
//	! +CMTI: "SM",1     an unsolicited line, sent after the last command's reply
//
// Blank lines and other # lines are ignored.
type Transcript struct {
	Header    map[string]string
	Leading   []string // unsolicited lines before the first command
	Exchanges []Exchange
}

// ParseTranscript reads a transcript.
func ParseTranscript(r io.Reader) (*Transcript, error) {
	t := &Transcript{Header: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line[1:]), ":"); ok && !strings.Contains(k, " ") {
				t.Header[strings.ToLower(k)] = strings.TrimSpace(v)
			}
			continue
		}
		if len(line) < 2 || line[1] != ' ' {
			return nil, fmt.Errorf("transcript line %d: want \"> \", \"< \" or \"! \" prefix: %q", n, line)
		}
		body := line[2:]
		switch line[0] {
		case '>':
			t.Exchanges = append(t.Exchanges, Exchange{Cmd: body})
		case '<', '!':
			if len(t.Exchanges) == 0 {
				if line[0] == '<' {
					return nil, fmt.Errorf("transcript line %d: reply before any command", n)
				}
				t.Leading = append(t.Leading, body)
				continue
			}
			last := &t.Exchanges[len(t.Exchanges)-1]
			last.Reply = append(last.Reply, body)
		default:
			return nil, fmt.Errorf("transcript line %d: unknown prefix %q", n, line[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return t, nil
}
