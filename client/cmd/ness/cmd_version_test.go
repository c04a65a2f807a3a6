package main

import (
	"bytes"
	"strings"
	"testing"
)

// runNess runs the CLI in process and returns its exit status, stdout and stderr.
func runNess(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := runNess(t, "", "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("ness frobnicate: code %d stderr %q, want 2 and a message naming the command", code, stderr)
	}
}

func TestHelpAndVersion(t *testing.T) {
	if code, out, _ := runNess(t, "", "--help"); code != 0 || !strings.Contains(out, "Usage: ness COMMAND") {
		t.Fatalf("ness --help: code %d out %q", code, out)
	}
	if code, out, _ := runNess(t, "", "--version"); code != 0 || !strings.HasPrefix(out, "ness ") {
		t.Fatalf("ness --version: code %d out %q", code, out)
	}
}
