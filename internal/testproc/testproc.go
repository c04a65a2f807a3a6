// Package testproc starts, stops and restarts the server processes tests run against (a private
// Mosquitto, say) on fixed loopback TCP ports. It is test support: only tests and the test-helper
// packages (hubtest, pipelinetest, …) import it.
//
// A test picks free ports (FreePort), writes the server's configuration for them and calls Start,
// which returns once every port accepts connections. The test may then Stop or Kill the process
// and Restart it on the same ports, as an operator or a crash would; at the end of the test the
// process is stopped, and its output is logged if the test failed.
package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These are variables so that this package's own tests can shorten them.
var (
	// startTimeout is how long Start and Restart wait for each port to accept connections.
	startTimeout = 10 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopTimeout = 10 * time.Second
)

// pollInterval is the pause between two connection attempts while a process starts.
const pollInterval = 20 * time.Millisecond

// ErrNotRunning is returned by Signal when the process has exited.
var ErrNotRunning = errors.New("testproc: process not running")

// Daemon is a server process a test starts, stops and starts again, listening on fixed loopback
// TCP ports. Its methods are safe for concurrent use.
type Daemon struct {
	name  string // in messages, e.g. "mosquitto"
	ports []int
	bin   string
	args  []string
	out   Buffer // stdout and stderr of every run

	restart sync.Mutex // makes Restart's check and start one step

	mu     sync.Mutex // guards cmd and exited, replaced by Restart
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited and been waited for
}

// Start runs bin with args and waits until every port accepts TCP connections on 127.0.0.1
// (up to 10 s for each). It fails the test, with everything the process wrote, when the process
// cannot be started, exits before listening, or does not listen in time; the process is killed
// first. name names the process in messages. The ports must be the process's own, picked with
// FreePort: one that some other process listens on would count as ready.
//
// t.Cleanup stops the process (Stop) at the end of the test and, if the test failed, logs its
// output.
func Start(t testing.TB, name string, ports []int, bin string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{name: name, ports: append([]int(nil), ports...), bin: bin, args: append([]string(nil), args...)}
	d.run(t)
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", d.name, d.out.String())
		}
	})
	return d
}

// Restart starts the process again, with the same command and ports, after Stop or Kill (or after
// it exited by itself), and waits as Start does. It fails the test if the process is running.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.restart.Lock()
	defer d.restart.Unlock()
	if d.Running() {
		t.Fatalf("%s: Restart while it is running", d.name)
	}
	d.run(t)
}

// run starts the process and waits until it listens on every port.
func (d *Daemon) run(t testing.TB) {
	t.Helper()
	cmd := exec.Command(d.bin, d.args...)
	cmd.Stdout, cmd.Stderr = &d.out, &d.out
	// Should the process leave a child holding its output pipes, Wait still returns.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", d.name, d.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()

	for _, port := range d.ports {
		if err := await(port, cmd, exited); err != nil {
			d.Kill()
			t.Fatalf("%s %v:\n%s", d.name, err, d.out.String())
		}
	}
	// A process that failed to bind may have left the port to someone else: make sure it is
	// still there.
	select {
	case <-exited:
		t.Fatalf("%s exited at start (%v):\n%s", d.name, cmd.ProcessState, d.out.String())
	default:
	}
}

// await waits until port accepts a connection; it gives up when cmd exits (closing exited) or
// after startTimeout.
func await(port int, cmd *exec.Cmd, exited <-chan struct{}) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited at start (%v)", cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %d after %s (%v)", port, startTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// current returns the process of the latest run and its exit channel.
func (d *Daemon) current() (*exec.Cmd, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd, d.exited
}

// Stop ends the process cleanly: SIGTERM, then SIGKILL if it is still there after 10 s; it
// returns once the process has exited. It does nothing if the process is not running.
func (d *Daemon) Stop() {
	cmd, exited := d.current()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		cmd.Process.Kill()
		<-exited
	}
}

// Kill ends the process with SIGKILL, as a crash or a power loss would, and returns once it has
// exited. It does nothing if the process is not running.
func (d *Daemon) Kill() {
	cmd, exited := d.current()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Signal sends sig (e.g. SIGHUP, to make a server reload its configuration) to the process. It
// returns ErrNotRunning if the process has exited.
func (d *Daemon) Signal(sig os.Signal) error {
	cmd, exited := d.current()
	select {
	case <-exited:
		return ErrNotRunning
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrNotRunning
		}
		return err
	}
	return nil
}

// Running reports whether the process is running: started and not yet exited.
func (d *Daemon) Running() bool {
	_, exited := d.current()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Output is everything the process wrote to its stdout and stderr so far, across restarts.
func (d *Daemon) Output() string { return d.out.String() }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Buffer is a bytes.Buffer that goroutines may write and read at the same time, e.g. to collect
// a child process's output. The zero value is an empty buffer ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns the buffer's contents.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Bytes returns a copy of the buffer's contents.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}
