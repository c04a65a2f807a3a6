package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

func TestHelpListsEveryVariable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help: got exit %d, want 0 (stderr %s)", code, errb.String())
	}
	for _, v := range []string{"DATA_DIR", "DB", "MQTT_URL", "MQTT_LISTEN", "MQTT_USERNAME", "MQTT_PASSWORD",
		"MQTT_CA", "MQTT_SHARE", "HTTP_ADDR", "KEY", "LOG_LEVEL", "MQTT_TLS_CERT", "MQTT_CLIENT_ID", "INGEST_WORKERS"} {
		if !strings.Contains(out.String(), "NESS_HUB_"+v+" ") {
			t.Errorf("--help output lacks NESS_HUB_%s:\n%s", v, out.String())
		}
	}
}

func TestBadConfigNamesVariable(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{"NESS_HUB_LOG_LEVEL", "loud", "NESS_HUB_LOG_LEVEL"},
		{"NESS_HUB_DB", "mysql://x", "NESS_HUB_DB"},
		{"NESS_HUB_MQTT_URL", "http://x", "NESS_HUB_MQTT_URL"},
		{"NESS_HUB_MQTT_SHARE", "a/b", "NESS_HUB_MQTT_SHARE"},
		{"NESS_HUB_INGEST_WORKERS", "0", "NESS_HUB_INGEST_WORKERS"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			t.Setenv("NESS_HUB_DATA_DIR", t.TempDir())
			var out, errb bytes.Buffer
			if code := Main(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
				t.Errorf("%s=%s: got exit %d, %q; want 2 and a message naming %s", c.env, c.value, code, errb.String(), c.want)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := &Config{DataDir: t.TempDir(), MQTTListen: ln.Addr().String(), HTTPAddr: freeAddr(t), LogLevel: "info", Workers: 1}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), c, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "NESS_HUB_MQTT_LISTEN") || !strings.Contains(err.Error(), "NESS_HUB_MQTT_URL") {
		t.Errorf("run with MQTT_LISTEN taken: got %v, want an error naming NESS_HUB_MQTT_LISTEN and NESS_HUB_MQTT_URL", err)
	}
}

// TestRunServesAndStops: the hub starts with defaults in a fresh data directory, creates its key
// 0600, serves /healthz and /metrics (with the ingest counters), enrols an agent, and returns
// nil soon after its context is cancelled.
func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: dir, MQTTListen: "127.0.0.1:0", HTTPAddr: freeAddr(t), LogLevel: "debug", Workers: 2}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, log) }()
	base := "http://" + c.HTTPAddr
	var body string
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				body = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("/healthz not ok after 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: got %q, want ok", body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `ness_hub_ingest_dropped_total{reason="signature"} 0`) {
		t.Errorf("/metrics lacks the ingest drop counters:\n%.2000s", m)
	}
	st, err := os.Stat(filepath.Join(dir, "hub.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("hub key: got %v, %v; want a 0600 file", st, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return 15s after cancel")
	}

	// enroll prints the password once and stores only its hash.
	prov, _ := wire.GenerateIdentity()
	agent, _ := wire.GenerateIdentity()
	cert, err := wire.NewAgentCert(agent.Verify, prov, "", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := cert.MarshalJSON()
	certFile := filepath.Join(t.TempDir(), "agent.cert")
	os.WriteFile(certFile, cj, 0o644)
	var out bytes.Buffer
	if err := enroll(context.Background(), c, certFile, &out); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if !strings.Contains(out.String(), "MQTT password: ") || !strings.Contains(out.String(), agent.AgentID()) {
		t.Errorf("enroll output: got %q, want the agent id and its password", out.String())
	}
}
