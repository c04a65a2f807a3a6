package testproc

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperArg as the first argument makes the test binary a small server (helperMain) instead of
// running the tests.
const helperArg = "testproc-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		helperMain(os.Args[2:])
		return
	}
	// Built with -race, a helper would sleep a second on exit (atexit_sleep_ms); the race
	// runtime of this process has read GORACE already.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// helperMain listens on the ports given as arguments until SIGTERM, saying what it does on stdout
// and stderr.
func helperMain(args []string) {
	fs := flag.NewFlagSet(helperArg, flag.ExitOnError)
	delay := fs.Duration("delay", 0, "wait this long before listening")
	ignoreTerm := fs.Bool("ignore-term", false, "keep running on SIGTERM")
	exit := fs.Int("exit", -1, "exit at once with this status")
	fs.Parse(args)
	fmt.Printf("helper pid %d\n", os.Getpid())
	if *exit >= 0 {
		fmt.Fprintf(os.Stderr, "helper exits with %d\n", *exit)
		os.Exit(*exit)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	time.Sleep(*delay)
	for _, p := range fs.Args() {
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		fmt.Fprintf(os.Stderr, "listening on %s\n", p)
	}
	for sig := range sigs {
		switch {
		case sig == syscall.SIGHUP:
			fmt.Println("hangup")
		case *ignoreTerm:
			fmt.Println("ignoring SIGTERM")
		default:
			fmt.Println("terminated")
			os.Exit(0)
		}
	}
}

// helper is the command line that runs helperMain with flags on ports.
func helper(t *testing.T, ports []int, flags ...string) (string, []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{helperArg}, flags...)
	for _, p := range ports {
		args = append(args, strconv.Itoa(p))
	}
	return exe, args
}

// setTimeouts shortens startTimeout and stopTimeout for one test.
func setTimeouts(t *testing.T, start, stop time.Duration) {
	oldStart, oldStop := startTimeout, stopTimeout
	startTimeout, stopTimeout = start, stop
	t.Cleanup(func() { startTimeout, stopTimeout = oldStart, oldStop })
}

func accepts(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitOutput waits up to 5 s until d's output holds s n times.
func waitOutput(t *testing.T, d *Daemon, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(d.Output(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("output: want %q %d times, got:\n%s", s, n, d.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDaemonLifecycle(t *testing.T) {
	ports := []int{FreePort(t), FreePort(t)}
	bin, args := helper(t, ports, "-delay=300ms")
	var d *Daemon
	t.Run("run", func(t *testing.T) {
		d = Start(t, "helper", ports, bin, args...)
		// Start returned only once both ports accept, although the helper waits before listening.
		for _, p := range ports {
			if !accepts(p) {
				t.Fatalf("port %d: refused right after Start", p)
			}
		}
		if !d.Running() {
			t.Fatal("Running after Start: got false")
		}
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatalf("Signal(SIGHUP): %v", err)
		}
		waitOutput(t, d, "hangup", 1)

		d.Stop()
		if d.Running() {
			t.Fatal("Running after Stop: got true")
		}
		if got := d.Output(); !strings.Contains(got, "terminated") {
			t.Errorf("output after Stop: no SIGTERM seen:\n%s", got)
		}
		if accepts(ports[0]) {
			t.Errorf("port %d accepts after Stop", ports[0])
		}
		if err := d.Signal(syscall.SIGHUP); !errors.Is(err, ErrNotRunning) {
			t.Errorf("Signal after Stop: got %v, want ErrNotRunning", err)
		}
		d.Stop() // again: nothing to do

		d.Restart(t)
		if !d.Running() || !accepts(ports[0]) || !accepts(ports[1]) {
			t.Fatalf("after Restart: running %v, ports accept %v %v", d.Running(), accepts(ports[0]), accepts(ports[1]))
		}
		d.Kill()
		if d.Running() {
			t.Fatal("Running after Kill: got true")
		}
		d.Restart(t)
		// Output accumulates over the three runs, stdout and stderr alike.
		if got := d.Output(); strings.Count(got, "helper pid") != 3 || strings.Count(got, "listening on") != 6 {
			t.Errorf("output of three runs: got\n%s", got)
		}
	})
	// The test's cleanup stopped the third run.
	if d == nil {
		t.FailNow()
	}
	if d.Running() {
		t.Error("Running after the test ended: got true")
	}
	if got := d.Output(); strings.Count(got, "terminated") != 2 {
		t.Errorf("output: want two runs ended by SIGTERM, got\n%s", got)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	setTimeouts(t, startTimeout, 300*time.Millisecond)
	port := FreePort(t)
	bin, args := helper(t, []int{port}, "-ignore-term")
	d := Start(t, "helper", []int{port}, bin, args...)
	start := time.Now()
	d.Stop()
	if d.Running() {
		t.Fatal("Running after Stop: got true")
	}
	waitOutput(t, d, "ignoring SIGTERM", 1)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %s with a 300ms timeout", took)
	}
}

// fakeTB records failures and cleanups instead of ending the test; Fatal ends the goroutine as
// testing.T's does.
type fakeTB struct {
	testing.TB // the real test, for what fakeTB does not override

	mu       sync.Mutex
	failed   bool
	msgs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run calls fn with the fake in a goroutine of its own, as a test runs, and returns when fn
// returns or fails.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

// cleanup runs the registered cleanups, last first.
func (f *fakeTB) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

func (f *fakeTB) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

func TestStartFails(t *testing.T) {
	setTimeouts(t, 300*time.Millisecond, stopTimeout)
	port := FreePort(t)
	exe, _ := helper(t, nil)
	for _, tt := range []struct {
		name string
		bin  string
		args []string
		want []string // in the failure message
	}{
		{"exits at once", "/bin/false", nil, []string{"false exited at start (exit status 1)"}},
		{"exits with output", exe, []string{helperArg, "-exit=3"},
			[]string{"exits with output exited at start (exit status 3)", "helper exits with 3"}},
		{"never listens", exe, []string{helperArg, "-delay=1h", strconv.Itoa(port)},
			[]string{fmt.Sprintf("never listens not listening on %d after 300ms", port), "helper pid"}},
		{"missing binary", "/nonexistent/daemon", nil, []string{"start missing binary (/nonexistent/daemon)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.name
			if tt.bin == "/bin/false" {
				name = "false"
			}
			f := &fakeTB{TB: t}
			var d *Daemon
			f.run(func(tb testing.TB) { d = Start(tb, name, []int{port}, tt.bin, tt.args...) })
			if !f.Failed() || d != nil {
				t.Fatalf("Start: failed %v, returned %v; want a failed test", f.Failed(), d)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.output(), w) {
					t.Errorf("failure message: want %q in\n%s", w, f.output())
				}
			}
			if len(f.cleanups) != 0 {
				t.Errorf("a failed Start registered %d cleanups, want none (it kills the process itself)", len(f.cleanups))
			}
			if accepts(port) {
				t.Errorf("port %d accepts after a failed Start", port)
			}
			// The helper's pid is in the failure message: the process is gone (killed if it
			// did not exit by itself) and waited for.
			var pid int
			if i := strings.Index(f.output(), "helper pid "); i >= 0 {
				fmt.Sscanf(f.output()[i:], "helper pid %d", &pid)
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("helper %d after a failed Start: kill -0 got %v, want ESRCH", pid, err)
				}
			}
		})
	}
}

func TestRestartWhileRunningFails(t *testing.T) {
	port := FreePort(t)
	bin, args := helper(t, []int{port})
	f := &fakeTB{TB: t}
	var d *Daemon
	f.run(func(tb testing.TB) { d = Start(tb, "helper", []int{port}, bin, args...) })
	defer f.cleanup()
	if f.Failed() {
		t.Fatalf("Start: %s", f.output())
	}
	f.run(func(tb testing.TB) { d.Restart(tb) })
	if !f.Failed() || !strings.Contains(f.output(), "helper: Restart while it is running") {
		t.Errorf("Restart while running: failed %v, messages:\n%s", f.Failed(), f.output())
	}
	if !d.Running() {
		t.Error("Running after a refused Restart: got false")
	}
	// The cleanup Start registered stops the process and, the (fake) test having failed, logs
	// its output.
	f.cleanup()
	if d.Running() {
		t.Error("Running after cleanup: got true")
	}
	if !strings.Contains(f.output(), "helper output:\nhelper pid") {
		t.Errorf("cleanup of a failed test: output not logged:\n%s", f.output())
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 400 {
		t.Errorf("length: got %d, want 400", n)
	}
	got := b.Bytes()
	got[0] = 'x'
	if b.String()[0] == 'x' {
		t.Error("Bytes: modifying the result changed the buffer")
	}
}
