package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Default timings. A modem answers simple commands in milliseconds, but
// SIM-bound ones (AT+CPMS, AT+CMGL on a full SIM, AT+CCID right after boot)
// can take seconds.
const (
	DefaultTimeout = 5 * time.Second
	DefaultSettle  = 200 * time.Millisecond
)

// maxQueuedUnknown caps unknown idle lines queued for the URC callback, so a
// modem spewing garbage cannot grow memory; known URCs are always queued.
const maxQueuedUnknown = 256

// URC is one unsolicited result code.
type URC struct {
	// Name is the code: "+CMTI", "+CMT", "+CREG", "RDY", "SMS DONE", …
	// It is empty for a line that arrived outside any command and matched no
	// known code; Line then holds it.
	Name string
	// Line is the whole line as received (noise bytes removed).
	Line string
	// Params is the text after "Name:", trimmed; empty for bare words.
	Params string
	// PDU is the decoded hex line that follows +CMT, +CDS and +CBM in PDU mode.
	PDU []byte
	// Err is set when the PDU line of +CMT/+CDS/+CBM was missing or malformed;
	// the line that came instead is then handled as a line of its own.
	Err error
}

// urcWithPDU lists the codes followed by one PDU line (27.005 §3.4.1, PDU mode).
var urcWithPDU = map[string]bool{"+CMT": true, "+CDS": true, "+CBM": true}

// knownURCs are routed as unsolicited even in the middle of a command, unless
// the command's own name is the same (AT+CREG? answers with +CREG:).
var knownURCs = map[string]bool{
	"+CMTI": true, "+CMT": true, "+CDSI": true, "+CDS": true, "+CBM": true, "+CBMI": true,
	"+CREG": true, "+CGREG": true, "+CEREG": true, "+C5GREG": true,
	"+CPIN": true, "+CFUN": true, "+QIND": true, "+QUSIM": true, "+CUSD": true,
	"+CRING": true, "+CLIP": true, "+CTZV": true, "*PSUTTZ": true, "+CIEV": true,
	"+CPIN_STATUS": true, "+SIMCARD": true, "+QSIMSTAT": true, "+CSMINS": true,
	"RDY": true, "SMS DONE": true, "SMS Ready": true, "Call Ready": true, "PB DONE": true,
	"RING": true, "NORMAL POWER DOWN": true, "POWERED DOWN": true,
	"UNDER-VOLTAGE POWER DOWN": true, "OVER-VOLTAGE POWER DOWN": true,
	"UNDER-VOLTAGE WARNNING": true, "OVER-VOLTAGE WARNNING": true,
	"UNDER-VOLTAGE WARNING": true, "OVER-VOLTAGE WARNING": true,
}

// ConnConfig configures a [Conn]. The zero value works.
type ConnConfig struct {
	// Timeout is the default per-command timeout (DefaultTimeout if zero).
	Timeout time.Duration
	// Settle is how long the engine listens for late answers after the sync
	// "AT" that follows a timed-out command (DefaultSettle if zero).
	Settle time.Duration
	// Clock drives timeouts (SystemClock if nil).
	Clock Clock
	// Logger receives debug lines about dropped noise and stale answers.
	Logger *slog.Logger
	// OnURC receives every unsolicited result code in arrival order. It runs
	// on the Conn's dispatch goroutine, never on the reader, so it may run
	// commands; while it runs, later URCs wait (none are dropped).
	OnURC func(URC)
	// ExtraURCs adds codes ("+XYZ" or a bare word) to route as unsolicited.
	ExtraURCs []string
}

// Conn is the AT command engine over one modem port.
//
// Goroutines and ownership:
//   - the reader goroutine (readLoop) alone reads the port; it owns the line
//     splitter and awaitPDU, and hands lines to the running command or to the
//     URC queue under mu;
//   - the goroutine that holds cmdMu (inside Command) alone writes the port,
//     and owns needSync;
//   - the dispatch goroutine (dispatchLoop) alone calls OnURC.
//
// mu guards active, queue, closed and closeErr.
type Conn struct {
	rw      io.ReadWriter
	clock   Clock
	timeout time.Duration
	settle  time.Duration
	log     *slog.Logger
	onURC   func(URC)
	urcs    map[string]bool

	cmdMu    sync.Mutex
	needSync bool // owned by the cmdMu holder

	mu       sync.Mutex
	cond     *sync.Cond // signals queue and closed changes to dispatchLoop
	active   *pending
	queue    []URC
	unknowns int // unknown lines in queue
	closed   bool
	closeErr error
	done     chan struct{} // closed on shutdown

	// owned by the reader goroutine
	split    *lineSplitter
	awaitPDU *URC
}

type pending struct {
	cmd   string
	name  string // "+CMGL" for "AT+CMGL=4"; "" for basic commands
	lines []string
	err   error
	fin   bool
	done  chan struct{}
}

// NewConn starts the engine on rw and returns at once; nothing is written
// until the first command. The reader goroutine ends when rw's Read returns
// an error (the caller closes the port); the Conn is then closed.
func NewConn(rw io.ReadWriter, cfg ConnConfig) *Conn {
	c := &Conn{
		rw:      rw,
		clock:   cfg.Clock,
		timeout: cfg.Timeout,
		settle:  cfg.Settle,
		log:     cfg.Logger,
		onURC:   cfg.OnURC,
		urcs:    make(map[string]bool, len(knownURCs)+len(cfg.ExtraURCs)),
		done:    make(chan struct{}),
		split:   newLineSplitter(maxLineLen),
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.settle <= 0 {
		c.settle = DefaultSettle
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for k := range knownURCs {
		c.urcs[k] = true
	}
	for _, k := range cfg.ExtraURCs {
		c.urcs[k] = true
	}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	go c.dispatchLoop()
	return c
}

// Done is closed when the Conn is closed (port error, end of file or Close).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the Conn closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closeErr
}

// Close marks the Conn closed: a running command fails with ErrClosed, later
// ones fail at once. It does not close the port; the caller does, which ends
// the reader goroutine. URCs already queued are still delivered.
func (c *Conn) Close() error {
	c.shutdown(nil)
	return nil
}

// Command sends cmd (a whole command line such as "AT+CMGR=3", without CR)
// and returns the information lines of its answer, with the echo, URCs and
// the final result code removed. It waits at most the Conn's default timeout.
// Commands are serialised: concurrent callers wait their turn.
func (c *Conn) Command(ctx context.Context, cmd string) ([]string, error) {
	return c.CommandTimeout(ctx, cmd, c.timeout)
}

// CommandTimeout is Command with its own timeout.
//
// On ErrTimeout the lines received before the timeout are returned with the
// error (some modems, such as old Wavecom firmware, answer AT+CPIN? without a
// final OK).
//
// Errors wrap the command: errors.As(err, &*CMEError{}) and errors.Is(err,
// ErrTimeout) work on the result. After a timeout or a cancelled context the
// next command first sends "AT" and waits for quiet, so a late answer to this
// command is never taken for the next one's.
func (c *Conn) CommandTimeout(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	if err := checkCommand(cmd); err != nil {
		return nil, err
	}
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.needSync {
		if err := c.resync(ctx, timeout); err != nil {
			return nil, fmt.Errorf("%s: resync: %w", cmd, err)
		}
	}
	lines, err := c.run(ctx, cmd, timeout)
	if err != nil {
		return lines, fmt.Errorf("%s: %w", cmd, err)
	}
	return lines, nil
}

func checkCommand(cmd string) error {
	if len(cmd) < 2 || !strings.EqualFold(cmd[:2], "AT") {
		return fmt.Errorf("modem: command %q does not start with AT", cmd)
	}
	if strings.ContainsAny(cmd, "\r\n\x1a\x1b") {
		return fmt.Errorf("modem: command %q contains a control character", cmd)
	}
	return nil
}

// run sends one command and waits for its final result. Called with cmdMu held.
func (c *Conn) run(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	p := &pending{cmd: cmd, name: commandName(cmd), done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		return nil, err
	}
	c.active = p
	c.mu.Unlock()

	if _, err := io.WriteString(c.rw, cmd+"\r"); err != nil {
		c.clearActive(p)
		c.needSync = true
		return nil, fmt.Errorf("write: %w", err)
	}
	expired, stop := c.clock.Timer(timeout)
	defer stop()
	var cause error
	select {
	case <-p.done:
		return p.lines, p.err
	case <-expired:
		cause = ErrTimeout
	case <-ctx.Done():
		cause = ctx.Err()
	}
	// The answer may have completed while we were giving up.
	lines, err, ok := c.clearActive(p)
	if ok {
		return lines, err
	}
	c.needSync = true
	return lines, cause
}

// clearActive detaches p; if it had already completed, it returns its result
// and true, otherwise the lines received so far and false.
func (c *Conn) clearActive(p *pending) ([]string, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == p {
		c.active = nil
	}
	if p.fin {
		return p.lines, p.err, true
	}
	return append([]string(nil), p.lines...), nil, false
}

// resync sends "AT", waits for a final result, then listens for Settle with no
// command active so that a late answer to the abandoned command is dropped.
func (c *Conn) resync(ctx context.Context, timeout time.Duration) error {
	if _, err := c.run(ctx, "AT", timeout); err != nil && !isFinalError(err) {
		return err
	}
	quiet, stop := c.clock.Timer(c.settle)
	defer stop()
	select {
	case <-quiet:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
	c.needSync = false
	return nil
}

// isFinalError reports whether err came from a final result code (the modem
// is talking, so the link is in sync even if it disliked the command).
func isFinalError(err error) bool {
	var cme *CMEError
	var cms *CMSError
	return errors.Is(err, ErrError) || errors.As(err, &cme) || errors.As(err, &cms)
}

// commandName returns the extended command name ("+CMGL" for "AT+CMGL=4",
// "+CPMS" for "AT+CPMS?") or "" for basic commands such as ATE0.
func commandName(cmd string) string {
	s := cmd[2:]
	if s == "" || !strings.ContainsRune("+^$*#%", rune(s[0])) {
		return ""
	}
	if i := strings.IndexAny(s, "=?;"); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(s)
}

// lineName returns the URC or information response name of a line: "+CMTI"
// for `+CMTI: "SM",3`, the whole line for bare words, "" otherwise.
func lineName(line string) string {
	if line != "" && strings.ContainsRune("+^$*#%", rune(line[0])) {
		if i := strings.IndexByte(line, ':'); i > 0 {
			return line[:i]
		}
		return ""
	}
	return line
}

// readLoop is the reader goroutine.
func (c *Conn) readLoop() {
	buf := make([]byte, 512)
	for {
		n, err := c.rw.Read(buf)
		if n > 0 {
			c.split.feed(buf[:n], c.handleLine)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.EOF
			}
			c.shutdown(err)
			return
		}
	}
}

// handleLine routes one line. Runs on the reader goroutine.
func (c *Conn) handleLine(line string) {
	if u := c.awaitPDU; u != nil {
		c.awaitPDU = nil
		pdu, err := DecodeHex(line)
		if err == nil {
			u.PDU = pdu
			c.enqueue(*u)
			return
		}
		u.Err = fmt.Errorf("%s: PDU line: %w", u.Name, err)
		c.enqueue(*u)
		// fall through: the line is handled on its own
	}

	name := lineName(line)
	final, ferr := finalResult(line)

	c.mu.Lock()
	p := c.active
	switch {
	case p != nil && final:
		p.err = ferr
		p.fin = true
		c.active = nil
		close(p.done)
		c.mu.Unlock()
		return
	case p != nil && isEcho(line, p):
		c.mu.Unlock()
		return
	case p != nil && !(c.urcs[name] && !strings.EqualFold(name, p.name)):
		p.lines = append(p.lines, line)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()

	switch {
	case final:
		c.log.Debug("modem: dropped final result with no command waiting", "line", line)
		return
	case p == nil && hasPrefixFold(line, "AT"):
		c.log.Debug("modem: dropped echo with no command waiting", "line", line)
		return
	}
	u := URC{Line: line}
	if c.urcs[name] {
		u.Name = name
		if name != line {
			u.Params = strings.TrimSpace(line[len(name)+1:])
		}
		if urcWithPDU[name] {
			c.awaitPDU = &u
			return
		}
	}
	c.enqueue(u)
}

func isEcho(line string, p *pending) bool {
	if strings.EqualFold(line, p.cmd) {
		return true
	}
	// A mangled echo (noise before the command was taken) still starts with
	// AT and comes before any answer line.
	return len(p.lines) == 0 && hasPrefixFold(line, "AT") && lineName(line) == line && !knownURCs[line]
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (c *Conn) enqueue(u URC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.Name == "" {
		if c.unknowns >= maxQueuedUnknown {
			c.log.Debug("modem: dropped unsolicited line, queue full", "line", u.Line)
			return
		}
		c.unknowns++
	}
	c.queue = append(c.queue, u)
	c.cond.Signal()
}

// dispatchLoop is the dispatch goroutine: it calls OnURC in order.
func (c *Conn) dispatchLoop() {
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		u := c.queue[0]
		c.queue[0] = URC{}
		c.queue = c.queue[1:]
		if u.Name == "" {
			c.unknowns--
		}
		c.mu.Unlock()
		if c.onURC != nil {
			c.onURC(u)
		}
	}
}

// shutdown closes the Conn once; cause nil means Close was called.
func (c *Conn) shutdown(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if cause == nil {
		c.closeErr = ErrClosed
	} else {
		c.closeErr = fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	if p := c.active; p != nil {
		p.err = c.closeErr
		p.fin = true
		c.active = nil
		close(p.done)
	}
	close(c.done)
	c.cond.Broadcast()
}
