package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/board"
)

func TestHelpListsEveryVariable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help: exit %d, stderr %s", code, errb.String())
	}
	want := []string{"NESS_AGENT_BOARD", "NESS_AGENT_PORTS", "NESS_AGENT_SIM_CONTROL", "NESS_AGENT_SIM_DIR", "NESS_AGENT_SLOTS",
		"NESS_AGENT_HEALTH_INTERVAL", "NESS_AGENT_SWEEP_INTERVAL", "NESS_AGENT_COMMAND_TIMEOUT", "NESS_AGENT_BACKOFF_MAX",
		"NESS_AGENT_SHUTDOWN_TIMEOUT", "NESS_AGENT_DATA_DIR", "NESS_AGENT_METRICS_ADDR", "NESS_AGENT_LOG_LEVEL",
		"NESS_AGENT_MQTT_URL", "NESS_AGENT_MQTT_PASSWORD", "NESS_AGENT_MQTT_CA", "NESS_AGENT_MQTT_CERT", "NESS_AGENT_MQTT_KEY",
		"NESS_AGENT_MQTT_BACKOFF_MIN", "NESS_AGENT_MQTT_BACKOFF_MAX", "NESS_AGENT_HUB_KEY", "NESS_AGENT_CERT",
		"NESS_AGENT_REPUBLISH_TIMEOUT", "NESS_AGENT_PUBLISH_TIMEOUT", "NESS_AGENT_MAX_INFLIGHT", "NESS_AGENT_SHUTDOWN_GRACE",
		"NESS_AGENT_REASSEMBLY_TIMEOUT", "NESS_AGENT_STATUS_INTERVAL", "NESS_AGENT_OUTBOX_MAX_COUNT", "NESS_AGENT_OUTBOX_MAX_BYTES",
		"NESS_AGENT_OUTBOX_ACK_RETENTION"}
	for _, v := range board.EnvVars {
		want = append(want, v.Name)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("--help: %s missing from\n%s", w, out.String())
		}
	}
}

func TestHelpIncludesOtherConfigParts(t *testing.T) {
	type extra struct {
		MQTTURL string `envconfig:"MQTT_URL" desc:"broker URL"`
	}
	old := pipelineConfigs
	defer func() { pipelineConfigs = old }()
	pipelineConfigs = append(pipelineConfigs, envSpec{Title: "Pipeline", Spec: &extra{}})
	var out bytes.Buffer
	var cfg agent.Config
	if err := usage(&out, configs(&cfg)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "NESS_AGENT_MQTT_URL") || !strings.Contains(out.String(), "Pipeline:") {
		t.Errorf("usage with a pipeline part: got\n%s\nwant NESS_AGENT_MQTT_URL under Pipeline:", out.String())
	}
}

func TestCLIErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"bad duration", nil, map[string]string{"NESS_AGENT_HEALTH_INTERVAL": "soon"}, 2, "NESS_AGENT_HEALTH_INTERVAL"},
		{"too short", []string{"run"}, map[string]string{"NESS_AGENT_SWEEP_INTERVAL": "1ms"}, 2, "NESS_AGENT_SWEEP_INTERVAL: 1ms"},
		{"bad level", nil, map[string]string{"NESS_AGENT_LOG_LEVEL": "chatty"}, 2, "NESS_AGENT_LOG_LEVEL"},
		{"bad broker URL", nil, map[string]string{"NESS_AGENT_MQTT_URL": "mqtt://hub"}, 2, "NESS_AGENT_MQTT_URL"},
		{"bad hub key", nil, map[string]string{"NESS_AGENT_HUB_KEY": "xyz"}, 2, "NESS_AGENT_HUB_KEY[0]"},
		{"bad inflight", nil, map[string]string{"NESS_AGENT_MAX_INFLIGHT": "many"}, 2, "NESS_AGENT_MAX_INFLIGHT"},
		{"unknown command", []string{"dance"}, nil, 2, `unknown command "dance"`},
		{"sim without control", nil, map[string]string{"NESS_AGENT_BOARD": "sim", "NESS_AGENT_SLOTS": "2", "NESS_AGENT_SIM_DIR": "/nonexistent"}, 1, "NESS_AGENT_SIM_CONTROL: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := cli(tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("cli(%q) with %v: got exit %d, stderr %q; want exit %d and %q", tt.args, tt.env, code, errb.String(), tt.code, tt.want)
			}
		})
	}
}

func TestBoards(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli([]string{"boards"}, &out, &errb); code != 0 {
		t.Fatalf("boards: exit %d: %s", code, errb.String())
	}
	for _, name := range []string{"sim", "usb-generic", "waveshare-sim7600x", "carrier-32"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("boards: %s missing from\n%s", name, out.String())
		}
	}
}

func TestEnrollRequest(t *testing.T) {
	dir := t.TempDir() + "/data"
	t.Setenv("NESS_AGENT_DATA_DIR", dir)
	var out, errb bytes.Buffer
	if code := cli([]string{"enroll-request"}, &out, &errb); code != 0 {
		t.Fatalf("enroll-request: exit %d: %s", code, errb.String())
	}
	req, err := identity.DecodeEnrollRequest(bytes.TrimSpace(out.Bytes()))
	if err != nil {
		t.Fatalf("enroll-request printed %q: %v", out.String(), err)
	}
	st, err := os.Stat(filepath.Join(dir, identity.KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("device key: %v, mode %v; want a 0600 file", err, st.Mode().Perm())
	}
	id, _, err := identity.LoadOrCreateKey(dir, time.Now())
	if err != nil || id.AgentID() != req.Agent {
		t.Errorf("request agent %s, device key's agent %v (%v)", req.Agent, id.AgentID(), err)
	}
	out.Reset()
	errb.Reset()
	if code := cli([]string{"enroll-request", "extra"}, &out, &errb); code != 2 || out.Len() != 0 {
		t.Errorf("enroll-request extra: got exit %d, stdout %q; want exit 2 and nothing on stdout", code, out.String())
	}
}
