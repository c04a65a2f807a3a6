package modemsim

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTicks returns this process's utime+stime from /proc/self/stat, in clock ticks.
func cpuTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc/self/stat: %v", err)
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 overall
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return ut + st
}

// TestIdleCPU32Slots checks that 32 slots on ptys, each with a client holding its port open,
// cost under 1 % of a core while nothing happens. Run alone:
//
//	go test -run TestIdleCPU32Slots -v ./agent/modemsim/
func TestIdleCPU32Slots(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 5 s; skipped with -short")
	}
	sim, dir := startSim(t, Config{Slots: 32})
	for n := range 32 {
		p := openPort(t, dir, n)
		if got := p.cmd("AT"); got != "AT\r\r\nOK\r\n" {
			t.Fatalf("slot %d: AT got %q", n, got)
		}
		// A client blocked in read, like an agent waiting for URCs.
		go func() {
			buf := make([]byte, 64)
			p.f.SetReadDeadline(time.Time{})
			for {
				if _, err := p.f.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	_ = sim
	const hz = 100 // USER_HZ on Linux
	const window = 5 * time.Second
	time.Sleep(200 * time.Millisecond)
	start, t0 := cpuTicks(t), time.Now()
	time.Sleep(window)
	used := time.Duration(cpuTicks(t)-start) * time.Second / hz
	frac := float64(used) / float64(time.Since(t0))
	t.Logf("32 idle slots: %v CPU in %v = %.3f %% of a core", used, time.Since(t0).Round(time.Millisecond), 100*frac)
	if frac >= 0.01 {
		t.Errorf("32 idle slots use %.2f %% of a core, want < 1 %%", 100*frac)
	}
}
