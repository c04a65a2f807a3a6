package mqttlink_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/mqttlink"
	"github.com/ness-network/ness-sms/agent/pipeline/pipelinetest"
)

func TestBackoff(t *testing.T) {
	const minD, maxD = 500 * time.Millisecond, 60 * time.Second
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		attempt int
		ceil    time.Duration
	}{
		{0, 500 * time.Millisecond}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{6, 32 * time.Second}, {7, 60 * time.Second}, {8, 60 * time.Second}, {1000, 60 * time.Second},
	}
	for _, tt := range tests {
		if got, want := mqttlink.Backoff(tt.attempt, minD, maxD, lowest), tt.ceil/2; got != want {
			t.Errorf("Backoff(%d) with the lowest draw: got %v, want %v (half the ceiling)", tt.attempt, got, want)
		}
		if got := mqttlink.Backoff(tt.attempt, minD, maxD, highest); got != tt.ceil {
			t.Errorf("Backoff(%d) with the highest draw: got %v, want %v (the ceiling)", tt.attempt, got, tt.ceil)
		}
		// Real jitter stays within [ceil/2, ceil] and actually varies.
		seen := map[time.Duration]bool{}
		for range 200 {
			d := mqttlink.Backoff(tt.attempt, minD, maxD, mrand.Int64N)
			if d < tt.ceil/2 || d > tt.ceil {
				t.Fatalf("Backoff(%d): got %v, want within [%v, %v]", tt.attempt, d, tt.ceil/2, tt.ceil)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Errorf("Backoff(%d): %d distinct delays in 200 draws, want jitter", tt.attempt, len(seen))
		}
	}
}

// writeTLSFiles writes a self-signed CA certificate and a matching key as PEM.
func writeTLSFiles(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ness test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestNewOptionErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTLSFiles(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	tests := []struct {
		name string
		cfg  mqttlink.Config
		want string // "" = valid
	}{
		{"tcp", mqttlink.Config{URL: "tcp://127.0.0.1:1883", ClientID: "a"}, ""},
		{"ssl, system roots", mqttlink.Config{URL: "ssl://hub:8883", ClientID: "a"}, ""},
		{"ssl, CA and client cert", mqttlink.Config{URL: "ssl://hub:8883", ClientID: "a", CAFile: cert, CertFile: cert, KeyFile: key}, ""},
		{"no client id", mqttlink.Config{URL: "tcp://h:1883"}, "client id"},
		{"not a URL", mqttlink.Config{URL: "127.0.0.1:1883", ClientID: "a"}, "NESS_AGENT_MQTT_URL"},
		{"bad scheme", mqttlink.Config{URL: "ws://h:1883", ClientID: "a"}, "NESS_AGENT_MQTT_URL: scheme"},
		{"TLS files on tcp", mqttlink.Config{URL: "tcp://h:1883", ClientID: "a", CAFile: cert}, "use ssl://"},
		{"CA missing", mqttlink.Config{URL: "ssl://h:8883", ClientID: "a", CAFile: filepath.Join(dir, "nope.pem")}, "NESS_AGENT_MQTT_CA"},
		{"CA not PEM", mqttlink.Config{URL: "ssl://h:8883", ClientID: "a", CAFile: junk}, "NESS_AGENT_MQTT_CA: " + junk + " holds no PEM"},
		{"cert without key", mqttlink.Config{URL: "ssl://h:8883", ClientID: "a", CertFile: cert}, "must be set together"},
		{"key without cert", mqttlink.Config{URL: "ssl://h:8883", ClientID: "a", KeyFile: key}, "must be set together"},
		{"bad key pair", mqttlink.Config{URL: "ssl://h:8883", ClientID: "a", CertFile: cert, KeyFile: junk}, "NESS_AGENT_MQTT_CERT/NESS_AGENT_MQTT_KEY"},
		{"backoff inverted", mqttlink.Config{URL: "tcp://h:1883", ClientID: "a", MinBackoff: time.Minute, MaxBackoff: time.Second}, "max backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mqttlink.New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestReconnect: the link comes back by itself after the broker is stopped and started, with
// its subscriptions made again; while down, Publish fails at once instead of queueing.
func TestReconnect(t *testing.T) {
	b := pipelinetest.StartBroker(t)
	var mu sync.Mutex
	var got []string
	link, err := mqttlink.New(mqttlink.Config{URL: b.URL, ClientID: "link-test", MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		Subscriptions: []string{"ness/test/in"},
		OnMessage: func(topic string, payload []byte) {
			mu.Lock()
			got = append(got, string(payload))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- link.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: got %v, want nil on cancel", err)
		}
	}()
	waitState := func(up bool, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for link.Connected() != up {
			if time.Now().After(deadline) {
				t.Fatalf("link connected = %v after %v, want %v", link.Connected(), within, up)
			}
			select {
			case <-link.Changed():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	sender := pipelinetest.Client(t, b.URL, "sender", nil, nil)
	roundTrip := func(msg string) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer pcancel()
		if err := link.Publish(pctx, "ness/test/out", []byte(msg), false); err != nil {
			t.Fatalf("Publish %q: %v", msg, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if tok := sender.Publish("ness/test/in", 1, false, msg); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("sender publish: %v", tok.Error())
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			ok := len(got) > 0 && got[len(got)-1] == msg
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscription: %q never arrived", msg)
			}
		}
	}
	waitState(true, 10*time.Second)
	roundTrip("first")

	b.Stop()
	waitState(false, 45*time.Second) // keep-alive detects it at the latest
	if err := link.Publish(context.Background(), "ness/test/out", []byte("x"), false); !errors.Is(err, mqttlink.ErrNotConnected) {
		t.Errorf("Publish while down: got %v, want ErrNotConnected at once", err)
	}
	time.Sleep(time.Second) // a few failed attempts with backoff
	b.Start()
	start := time.Now()
	waitState(true, 10*time.Second)
	t.Logf("reconnected %v after the broker came back", time.Since(start).Round(time.Millisecond))
	if n := link.Connects(); n != 2 {
		t.Errorf("connections: got %d, want 2", n)
	}
	roundTrip("after restart")
}
