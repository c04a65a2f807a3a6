package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoCheck runs `scripts/demo --check` (the acceptance: an SMS injected into a
// simulated modem is shown decrypted by `ness tail` in under 2 s) on binaries built for the test:
// ness-hub, ness-modemsim, ness-agent and ness as separate processes on free ports, as a user
// runs them. It takes about 15 s; -short skips it.
func TestDemoCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo check builds and starts every binary (about 15 s)")
	}
	for _, tool := range []string{"bash", "python3", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("scripts/demo needs %s: run scripts/setup (or install it)", tool)
		}
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+"/",
		"./hub/cmd/ness-hub", "./agent/cmd/ness-agent", "./agent/cmd/ness-modemsim", "./client/cmd/ness")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "demo"), "--check")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DEMO_SKIP_BUILD=1", "DEMO_BIN="+bin, "DEMO_DIR="+filepath.Join(t.TempDir(), "demo"),
		"NESS_HUB_URL=", "NESS_TOKEN=", "NESS_KEY=")
	// On timeout, SIGTERM lets the script's trap stop what it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo --check: %v after %v\n%s", err, time.Since(start).Round(time.Millisecond), out)
	}
	fig := regexp.MustCompile(`injection → decrypted ness tail line[^\n]*`).Find(out)
	if fig == nil || !strings.Contains(string(out), "demo check: PASS") {
		t.Fatalf("scripts/demo --check: exit 0 without the figure and PASS line:\n%s", out)
	}
	t.Logf("scripts/demo --check in %v: %s", time.Since(start).Round(time.Millisecond), fig)
}
