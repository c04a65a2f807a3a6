package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdle32Slots measures the real ness-agent binary, idle with 32 ready sim slots at the
// DEFAULT poll intervals (health 30 s, sweep 60 s), against ness-modemsim in a separate process
// so the simulator's CPU does not count. It reports the agent's CPU share of one core over the
// window and its resident memory, and fails above 1 % of a core or 30 MiB RSS.
//
//	go test -run '^$' -bench Idle32Slots -benchtime 1x ./agent/cmd/ness-agent
//
// NESS_BENCH_WINDOW changes the measuring window (default 60s: two health polls and one sweep
// per slot).
func BenchmarkIdle32Slots(b *testing.B) {
	window := 60 * time.Second
	if v := os.Getenv("NESS_BENCH_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("NESS_BENCH_WINDOW=%q: %v", v, err)
		}
		window = d
	}
	dir := b.TempDir()
	goTool := "go" // go test puts its own $GOROOT/bin first on PATH
	for _, pkg := range []string{"ness-agent", "ness-modemsim"} {
		out, err := exec.Command(goTool, "build", "-o", filepath.Join(dir, pkg), "../"+pkg).CombinedOutput()
		if err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ptys := filepath.Join(dir, "ptys")
	sim := exec.Command(filepath.Join(dir, "ness-modemsim"), "--slots", "32", "--dir", ptys, "--control", "127.0.0.1:0")
	simOut, err := sim.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { sim.Process.Kill(); sim.Wait() }()
	line, err := bufio.NewReader(simOut).ReadString('\n')
	if err != nil {
		b.Fatalf("ness-modemsim: no ready line: %v", err)
	}
	go io.Copy(io.Discard, simOut)
	var control string
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "control="); ok {
			control = v
		}
	}
	if control == "" {
		b.Fatalf("ness-modemsim ready line %q: no control=", line)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	metrics := ln.Addr().String()
	ln.Close()

	agentCmd := exec.Command(filepath.Join(dir, "ness-agent"), "run")
	agentCmd.Env = append(os.Environ(),
		"NESS_AGENT_BOARD=sim", "NESS_AGENT_SLOTS=32", "NESS_AGENT_SIM_DIR="+ptys, "NESS_AGENT_SIM_CONTROL="+control,
		"NESS_AGENT_METRICS_ADDR="+metrics, "NESS_AGENT_LOG_LEVEL=error", "NESS_AGENT_DATA_DIR="+dir)
	agentCmd.Stderr = os.Stderr
	if err := agentCmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { agentCmd.Process.Kill(); agentCmd.Wait() }()
	pid := agentCmd.Process.Pid

	// Wait (scraping metrics) until all 32 are ready, then stop scraping: the window is idle.
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, err := readySlots("http://" + metrics + "/metrics")
		if err == nil && n == 32 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("agent: %d of 32 slots ready after 90 s (%v)", n, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)

	b.ResetTimer()
	t0, c0 := time.Now(), cpuTicks(b, pid)
	var peak float64
	for time.Since(t0) < window {
		time.Sleep(time.Second)
		peak = max(peak, rssMiB(b, pid))
	}
	elapsed, c1 := time.Since(t0), cpuTicks(b, pid)
	b.StopTimer()
	cpu := float64(c1-c0) / clockTicks / elapsed.Seconds() * 100
	b.ReportMetric(cpu, "%cpu")
	b.ReportMetric(peak, "MiB-RSS")
	b.Logf("idle agent, 32 sim slots, default intervals: %.3f %% of a core over %v (%d ticks), peak RSS %.1f MiB, GOMAXPROCS host %d",
		cpu, elapsed.Round(time.Second), c1-c0, peak, runtime.NumCPU())
	if cpu >= 1 {
		b.Errorf("CPU: got %.3f %% of a core, want < 1 %%", cpu)
	}
	if peak >= 30 {
		b.Errorf("RSS: got %.1f MiB, want < 30 MiB", peak)
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on every Linux port we target).
const clockTicks = 100

// cpuTicks returns utime+stime of pid from /proc/PID/stat.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, err1 := strconv.ParseInt(f[11], 10, 64)              // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64)              // field 15
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return ut + st
}

// rssMiB returns VmRSS of pid.
func rssMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("/proc/%d/status: no VmRSS", pid)
	return 0
}

// readySlots counts slots in state ready on the agent's metrics page.
func readySlots(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "ness_agent_slot_state{") && strings.Contains(l, `state="ready"`) && strings.HasSuffix(l, " 1") {
			n++
		}
	}
	return n, nil
}
