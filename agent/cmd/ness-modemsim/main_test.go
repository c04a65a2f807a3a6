package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startBinary builds ness-modemsim and runs it with args; it returns the control URL.
func startBinary(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ness-modemsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`^ready control=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
	}()
	select {
	case u := <-ready:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("ness-modemsim printed no ready line within 10s")
	}
	return ""
}

func inject(t *testing.T, url, from, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"from": from, "text": text})
	resp, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: status %d", url, resp.StatusCode)
	}
}

func gammuPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("gammu")
	if err != nil {
		if os.Getenv("NESS_SKIP_GAMMU") != "" {
			t.Skip("gammu not installed and NESS_SKIP_GAMMU set")
		}
		t.Fatal("gammu is not installed: run scripts/setup (or apt-get install -y gammu); set NESS_SKIP_GAMMU=1 to skip this test")
	}
	return p
}

func runGammu(t *testing.T, gammu, cfg string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gammu, append([]string{"-c", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gammu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGammuReadsInjectedSMS is the acceptance test: Debian's gammu, unchanged, identifies a
// simulated modem and reads the messages injected through the control API.
func TestGammuReadsInjectedSMS(t *testing.T) {
	gammu := gammuPath(t)
	for _, model := range []string{"sim7600", "ec25", "sim800"} {
		t.Run(model, func(t *testing.T) {
			dir := t.TempDir()
			ctl := startBinary(t, "--slots", "2", "--dir", dir, "--control", "127.0.0.1:0", "--model", model)
			cfg := filepath.Join(dir, "gammurc")
			os.WriteFile(cfg, []byte(fmt.Sprintf("[gammu]\ndevice = %s\nconnection = at\n", filepath.Join(dir, "slot1"))), 0o644)

			var st struct{ IMEI, IMSI string }
			resp, err := http.Get(ctl + "/slots/1")
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()

			out := runGammu(t, gammu, cfg, "identify")
			for _, want := range []string{st.IMEI, st.IMSI} {
				if want == "" || !strings.Contains(out, want) {
					t.Errorf("gammu identify: output lacks %q:\n%s", want, out)
				}
			}
			long := strings.Repeat("Long message part text. ", 12)
			inject(t, ctl+"/slots/1/sms", "+15551234567", "Your code is 4711")
			inject(t, ctl+"/slots/1/sms", "+447700900123", "Привет, мир ✓")
			inject(t, ctl+"/slots/1/sms", "NESSBank", long)
			out = runGammu(t, gammu, cfg, "getallsms") // one entry per stored part
			for _, want := range []string{`"+15551234567"`, "Your code is 4711", `"+447700900123"`, "Привет, мир ✓", "part 2 of 2"} {
				if !strings.Contains(out, want) {
					t.Errorf("gammu getallsms: output lacks %q:\n%s", want, out)
				}
			}
			out = runGammu(t, gammu, cfg, "geteachsms") // geteachsms joins concatenated parts
			for _, want := range []string{`"+15551234567"`, "Your code is 4711", `"+447700900123"`, "Привет, мир ✓", `"NESSBank"`, strings.TrimSpace(long)} {
				if !strings.Contains(out, want) {
					t.Errorf("gammu geteachsms: output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
