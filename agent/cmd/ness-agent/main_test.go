package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/board"
)

func TestHelpListsEveryVariable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help: exit %d, stderr %s", code, errb.String())
	}
	want := []string{"NESS_AGENT_BOARD", "NESS_AGENT_PORTS", "NESS_AGENT_SIM_CONTROL", "NESS_AGENT_SIM_DIR", "NESS_AGENT_SLOTS",
		"NESS_AGENT_HEALTH_INTERVAL", "NESS_AGENT_SWEEP_INTERVAL", "NESS_AGENT_COMMAND_TIMEOUT", "NESS_AGENT_BACKOFF_MAX",
		"NESS_AGENT_SHUTDOWN_TIMEOUT", "NESS_AGENT_DATA_DIR", "NESS_AGENT_METRICS_ADDR", "NESS_AGENT_LOG_LEVEL"}
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
