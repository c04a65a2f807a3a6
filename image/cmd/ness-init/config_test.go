package main

import (
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestParseEnv(t *testing.T) {
	in := "\xef\xbb\xbf# comment\r\nNESS_AGENT_BOARD=usb-generic\r\n  export NESS_AGENT_PORTS = \"/dev/ttyUSB0,/dev/ttyUSB1\" \nPATH=/evil\nnot a setting\nNESS_NTP_WAIT='5s'\n\n"
	vars, warn := parseEnv([]byte(in))
	want := map[string]string{"NESS_AGENT_BOARD": "usb-generic", "NESS_AGENT_PORTS": "/dev/ttyUSB0,/dev/ttyUSB1", "NESS_NTP_WAIT": "5s"}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("parseEnv(%q): got %v, want %v", in, vars, want)
	}
	if len(warn) != 2 {
		t.Errorf("parseEnv(%q): got warnings %q, want 2 (PATH, not a setting)", in, warn)
	}
	s, w := loadSettings(vars)
	if s.NTPWait != 5*time.Second || len(w) != 0 {
		t.Errorf("loadSettings: NTPWait %v warnings %q, want 5s and none", s.NTPWait, w)
	}
	env := agentEnv(vars)
	wantEnv := []string{"HOME=/perm", "NESS_AGENT_BOARD=usb-generic", "NESS_AGENT_DATA_DIR=/perm/ness-agent", "NESS_AGENT_PORTS=/dev/ttyUSB0,/dev/ttyUSB1", "PATH=/bin"}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("agentEnv: got %q, want %q", env, wantEnv)
	}
	if _, w := loadSettings(map[string]string{"NESS_NTP_WAIT": "soon"}); len(w) != 1 {
		t.Errorf("loadSettings(NESS_NTP_WAIT=soon): got warnings %q, want one", w)
	}
}

func TestClockFloor(t *testing.T) {
	build := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		saved, want time.Time
	}{
		{"nothing saved", time.Time{}, build},
		{"saved before the build", build.Add(-time.Hour), build},
		{"saved after the build", build.Add(48 * time.Hour), build.Add(48 * time.Hour)},
	}
	for _, tt := range tests {
		if got := clockFloor(build, tt.saved); !got.Equal(tt.want) {
			t.Errorf("clockFloor(%s): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCmdline(t *testing.T) {
	cl := "console=tty1 root=PARTUUID=1A2B3C4D-02 ro init=/ness-init"
	label, part, err := cmdlineRoot(cl)
	if err != nil || label != "1a2b3c4d" || part != 2 {
		t.Errorf("cmdlineRoot(%q): got %q %d %v, want 1a2b3c4d 2", cl, label, part, err)
	}
	for _, bad := range []string{"root=/dev/mmcblk0p2", "root=PARTUUID=1234-02", "root=PARTUUID=1a2b3c4d"} {
		if _, _, err := cmdlineRoot(bad); err == nil {
			t.Errorf("cmdlineRoot(%q): got nil error, want one", bad)
		}
	}
	if got, want := withRoot(cl, "1a2b3c4d", 3), "console=tty1 root=PARTUUID=1a2b3c4d-03 ro init=/ness-init"; got != want {
		t.Errorf("withRoot: got %q, want %q", got, want)
	}
	if got := configCmdlineFile("arm_64bit=1\r\ncmdline=cmdline-try.txt\r\n"); got != "cmdline-try.txt" {
		t.Errorf("configCmdlineFile: got %q, want cmdline-try.txt", got)
	}
	if got := configCmdlineFile("arm_64bit=1\n"); got != "cmdline.txt" {
		t.Errorf("configCmdlineFile(no cmdline=): got %q, want the firmware default cmdline.txt", got)
	}
}

func TestBackoff(t *testing.T) {
	var b backoff
	var got []time.Duration
	for range 8 {
		got = append(got, b.next(time.Second))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff after quick exits: got %v, want %v seconds", got, want)
		}
	}
	if d := b.next(2 * time.Minute); d != time.Second {
		t.Errorf("backoff after a long run: got %v, want 1s", d)
	}
}

func TestWithBootCert(t *testing.T) {
	base := agentEnv(map[string]string{"NESS_AGENT_BOARD": "usb-generic"})
	tests := []struct {
		name   string
		env    []string
		exists bool
		want   string // the NESS_AGENT_CERT entry, "" for none
	}{
		{"no file", base, false, ""},
		{"file on the boot partition", base, true, "NESS_AGENT_CERT=/boot/agent.cert"},
		{"env file names its own", agentEnv(map[string]string{"NESS_AGENT_CERT": "/perm/c.json"}), true, "NESS_AGENT_CERT=/perm/c.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withBootCert(tt.env, tt.exists)
			var cert []string
			for _, kv := range got {
				if len(kv) > 16 && kv[:16] == "NESS_AGENT_CERT=" {
					cert = append(cert, kv)
				}
			}
			switch {
			case tt.want == "" && len(cert) != 0:
				t.Errorf("got %q, want no NESS_AGENT_CERT", got)
			case tt.want != "" && (len(cert) != 1 || cert[0] != tt.want):
				t.Errorf("got %q, want exactly %s", got, tt.want)
			}
			if !sort.StringsAreSorted(got) {
				t.Errorf("got %q, want it sorted", got)
			}
		})
	}
}
