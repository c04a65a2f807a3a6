// Command ness-hub is the NESS SMS hub: it takes agents' signed, sealed SMS from MQTT, verifies
// and stores them once (SQLite in its data directory, or PostgreSQL), answers with signed
// receipts, publishes signed leases, and serves /metrics and /healthz. Configuration is read from
// the environment (NESS_HUB_*); `ness-hub --help` lists every variable.
//
//	ness-hub                 run the hub
//	ness-hub enroll CERTFILE enrol an agent from its provider-signed certificate (JSON) and print
//	                         its MQTT password once
//	ness-hub --help          list every environment variable
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/kelseyhightower/envconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/dashboard"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/hub/lease"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/wire"
)

// EnvPrefix is the prefix of every variable.
const EnvPrefix = "NESS_HUB"

// Config is the hub's configuration.
type Config struct {
	DataDir             string `envconfig:"DATA_DIR" desc:"data directory (SQLite file, hub key); default $XDG_DATA_HOME/ness-hub when XDG_DATA_HOME is set, else ./ness-hub-data"`
	DB                  string `envconfig:"DB" desc:"database: empty = SQLite in the data directory; postgres://… = PostgreSQL"`
	MQTTURL             string `envconfig:"MQTT_URL" desc:"external broker (tcp://host:port or ssl://host:port); empty = run the embedded broker"`
	MQTTListen          string `envconfig:"MQTT_LISTEN" default:"127.0.0.1:1883" desc:"address of the embedded broker"`
	MQTTTLSCert         string `envconfig:"MQTT_TLS_CERT" desc:"embedded broker: PEM certificate file; with MQTT_TLS_KEY the listener is TLS"`
	MQTTTLSKey          string `envconfig:"MQTT_TLS_KEY" desc:"embedded broker: PEM key file"`
	MQTTUsername        string `envconfig:"MQTT_USERNAME" default:"ness-hub" desc:"hub's username at the external broker"`
	MQTTPassword        string `envconfig:"MQTT_PASSWORD" desc:"hub's password at the external broker (embedded broker: a random one per start)"`
	MQTTCA              string `envconfig:"MQTT_CA" desc:"PEM CA file to verify an ssl:// external broker; empty = system roots"`
	MQTTClientID        string `envconfig:"MQTT_CLIENT_ID" desc:"MQTT client id of this instance (its persistent session); default ness-hub-<hostname>"`
	MQTTShare           string `envconfig:"MQTT_SHARE" desc:"shared subscription group: several hubs with the same group split agents' messages ($share/<group>/…)"`
	HTTPAddr            string `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"HTTP(S) address for the API (/v1/), /metrics and /healthz"`
	TLSCert             string `envconfig:"TLS_CERT" desc:"PEM certificate file for HTTPS (ness-hub dev-cert makes one); empty = plain HTTP, loopback only"`
	TLSKey              string `envconfig:"TLS_KEY" desc:"PEM key file for HTTPS"`
	AllowPlain          bool   `envconfig:"ALLOW_PLAIN_HTTP" desc:"serve plain HTTP on a non-loopback address (only behind a TLS proxy)"`
	WebhookAllowPrivate bool   `envconfig:"WEBHOOK_ALLOW_PRIVATE" desc:"deliver webhooks to loopback and private-network addresses too (development; default: public addresses only)"`
	Origin              string `envconfig:"ORIGIN" desc:"the hub's origin as clients reach it (signed at sign-in); default scheme://NESS_HUB_HTTP_ADDR"`
	EmercoinNet         string `envconfig:"EMERCOIN_NETWORK" default:"main" desc:"network of addresses that may sign in with an Emercoin signed message: main, test, regtest or off"`
	Key                 string `envconfig:"KEY" desc:"hub key file (all instances of a deployment share it); default <data dir>/hub.key, created 0600 on first start"`
	Workers             int    `envconfig:"INGEST_WORKERS" default:"4" desc:"messages verified and stored at once"`
	LogLevel            string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command and returns the exit code: 0 ok, 1 failure, 2 usage.
func Main(args []string, stdout, stderr io.Writer) int {
	var cfg Config
	cmd := "run"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "run", "enroll", "dev-cert":
	default:
		fmt.Fprintf(stderr, "ness-hub: unknown command %q (want run, enroll CERTFILE, dev-cert [HOST...] or --help)\n", cmd)
		return 2
	}
	if err := envconfig.Process(EnvPrefix, &cfg); err != nil {
		fmt.Fprintf(stderr, "ness-hub: %v\n", err)
		return 2
	}
	if err := cfg.normalize(); err != nil {
		fmt.Fprintf(stderr, "ness-hub: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.level()}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if cmd == "enroll" {
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: ness-hub enroll CERTFILE")
			return 2
		}
		err = enroll(ctx, &cfg, args[1], stdout)
	} else if cmd == "dev-cert" {
		err = devCert(&cfg, args[1:], stdout)
	} else {
		go func() {
			<-ctx.Done()
			stop() // a second signal ends the process at once
		}()
		err = run(ctx, &cfg, log)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ness-hub: %v\n", err)
		return 1
	}
	return 0
}

const usageFormat = `{{range .}}  {{usage_key .}}	{{usage_description .}}{{if usage_default .}} (default {{usage_default .}}){{end}}
{{end}}`

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ness-hub [run | enroll CERTFILE | dev-cert [HOST...] | --help]")
	fmt.Fprintln(w, "\nEnvironment:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	envconfig.Usagef(EnvPrefix, &Config{}, tw, usageFormat)
	envconfig.Usagef(EnvPrefix, &ChainConfig{}, tw, usageFormat) // chain.go
	tw.Flush()
}

func (c *Config) level() slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// normalize fills defaults and checks what envconfig cannot; errors name the variable.
func (c *Config) normalize() error {
	if c.DataDir == "" {
		if x := os.Getenv("XDG_DATA_HOME"); x != "" {
			c.DataDir = filepath.Join(x, "ness-hub")
		} else {
			c.DataDir = "ness-hub-data"
		}
	}
	if c.Key == "" {
		c.Key = filepath.Join(c.DataDir, "hub.key")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("NESS_HUB_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("NESS_HUB_DB: want empty (SQLite in NESS_HUB_DATA_DIR) or a postgres:// URL")
	}
	if c.MQTTURL != "" && !strings.HasPrefix(c.MQTTURL, "tcp://") && !strings.HasPrefix(c.MQTTURL, "ssl://") {
		return fmt.Errorf("NESS_HUB_MQTT_URL %q: want tcp://host:port or ssl://host:port", c.MQTTURL)
	}
	if c.MQTTURL != "" && c.MQTTPassword == "" {
		return errors.New("NESS_HUB_MQTT_PASSWORD: required with NESS_HUB_MQTT_URL (the hub's credential at the external broker)")
	}
	if (c.MQTTTLSCert == "") != (c.MQTTTLSKey == "") {
		return errors.New("NESS_HUB_MQTT_TLS_CERT and NESS_HUB_MQTT_TLS_KEY: set both or neither")
	}
	if strings.ContainsAny(c.MQTTShare, "/+#") {
		return fmt.Errorf("NESS_HUB_MQTT_SHARE %q: must not hold / + or #", c.MQTTShare)
	}
	if c.Workers < 1 || c.Workers > 256 {
		return fmt.Errorf("NESS_HUB_INGEST_WORKERS %d: want 1..256", c.Workers)
	}
	if c.MQTTClientID == "" {
		host, _ := os.Hostname()
		c.MQTTClientID = "ness-hub-" + host
	}
	return c.normalizeAPI()
}

// openStore opens the configured database.
func openStore(ctx context.Context, c *Config) (hub.Store, error) {
	if c.DB != "" {
		return postgres.Open(ctx, c.DB)
	}
	return sqlite.OpenDir(ctx, c.DataDir)
}

// loadKey reads the hub key, creating it (0600) on first start.
func loadKey(path string, log *slog.Logger) (*wire.Identity, error) {
	kf, err := wire.ReadKeyFile(path)
	if err == nil {
		if kf.Identity == nil {
			return nil, fmt.Errorf("NESS_HUB_KEY %s: holds no private key", path)
		}
		return kf.Identity, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("NESS_HUB_KEY %s: %w", path, err)
	}
	id, err := wire.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("NESS_HUB_KEY %s: %w", path, err)
	}
	if err := wire.WriteKeyFile(path, id, wire.KindHub, "", time.Now()); err != nil {
		return nil, fmt.Errorf("NESS_HUB_KEY %s: %w", path, err)
	}
	log.Info("created hub key", "path", path, "verify", id.Verify.String())
	return id, nil
}

func enroll(ctx context.Context, c *Config, certFile string, stdout io.Writer) error {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	s, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()
	a, pass, err := ingest.Enroll(ctx, s, b, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agent %s enrolled\nMQTT username: %s\nMQTT password: %s\n"+
		"(shown once: set it as the agent's NESS_AGENT_MQTT_PASSWORD; with an external Mosquitto, "+
		"rewrite its password file and send it SIGHUP)\n", a.ID, a.ID, pass)
	return nil
}

func run(ctx context.Context, c *Config, log *slog.Logger) error {
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := loadKey(c.Key, log)
	if err != nil {
		return err
	}
	log.Info("ness-hub starting", "data_dir", c.DataDir, "db", dbKind(c), "hub_key", key.Verify.String())
	chain, err := startChain(ctx, c, store, key, log) // chain.go: Emercoin, daily proofs, EmerDNS
	if err != nil {
		return err
	}
	defer chain.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	url, user, pass := c.MQTTURL, c.MQTTUsername, c.MQTTPassword
	var tlsConf *tls.Config
	if url == "" {
		pass, err = broker.NewPassword()
		if err != nil {
			return err
		}
		hash, err := broker.HashPassword(pass)
		if err != nil {
			return err
		}
		b, err := broker.Start(broker.Config{Listen: c.MQTTListen, CertFile: c.MQTTTLSCert, KeyFile: c.MQTTTLSKey,
			HubPasswordHash: hash, Lookup: broker.StoreLookup(store, log), Logger: log.With("component", "broker")})
		if err != nil {
			return err // a ListenError names NESS_HUB_MQTT_LISTEN and NESS_HUB_MQTT_URL
		}
		defer b.Close()
		url, user = b.URL(), broker.DefaultHubUsername
		if strings.HasPrefix(url, "ssl://") {
			tlsConf = &tls.Config{InsecureSkipVerify: true} // our own listener on loopback
		}
		if host, port, err := net.SplitHostPort(b.Addr()); err == nil && (host == "::" || host == "0.0.0.0") {
			url = strings.Replace(url, b.Addr(), net.JoinHostPort("127.0.0.1", port), 1)
		}
		log.Info("embedded MQTT broker listening", "addr", b.Addr())
	} else if c.MQTTCA != "" {
		pem, err := os.ReadFile(c.MQTTCA)
		if err != nil {
			return fmt.Errorf("NESS_HUB_MQTT_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("NESS_HUB_MQTT_CA %s: no PEM certificate in it", c.MQTTCA)
		}
		tlsConf = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}

	var notifier ingest.Notifier
	var pgNotify *notify.Postgres
	if ps, ok := store.(*postgres.Store); ok {
		pgNotify = notify.NewPostgres(ps.Pool(), c.DB, log.With("component", "notify"))
		notifier = pgNotify
	} else {
		notifier = notify.NewLocal()
	}

	// The OnConnect hook only logs: ClientOptions' own handler makes ingest subscribe again on
	// every reconnect (a broker that lost its state has forgotten the subscriptions).
	opts := ingest.ClientOptions(ingest.ClientConfig{URL: url, ClientID: c.MQTTClientID, Username: user,
		Password: pass, TLS: tlsConf,
		OnConnect: func(mqtt.Client) { log.Info("connected to MQTT broker", "url", redactURL(url)) }})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { log.Warn("MQTT connection lost", "err", err) })
	client := mqtt.NewClient(opts)
	tok := client.Connect() // with connect retry, this returns when connected or ctx ends below
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("connect to MQTT broker %s: %w", redactURL(url), err)
		}
	case <-ctx.Done():
		return nil
	}
	defer client.Disconnect(1000)

	metrics := ingest.NewMetrics(reg)
	in, err := ingest.New(ingest.Config{Store: store, Key: key, Receipts: ingest.MQTTPublisher{Client: client},
		Notify: notifier, Log: log.With("component", "ingest"), Metrics: metrics, Workers: c.Workers, Share: c.MQTTShare})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !client.IsConnectionOpen() {
			http.Error(w, "mqtt: not connected", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", dashboard.Handler()) // the web dashboard (hub/dashboard); the API keeps /v1/
	// Leases: the embedded broker keeps retained messages in memory only, and a lease recorded
	// while the broker was unreachable was never published, so every active rental's lease is
	// published again now; what fails stays pending and the issuer retries it.
	leases := &lease.Issuer{Store: store, Key: key, MQTT: ingest.MQTTPublisher{Client: client}, Log: log.With("component", "lease")}
	if _, err := leases.RepublishActive(ctx); err != nil {
		log.Warn("active leases not republished at start", "err", err)
	}
	go leases.Run(ctx)
	var proofs httpapi.Prover // nil (not a nil *chainjob.Job) when proofs are off: the route answers 501
	if chain != nil && chain.Job != nil {
		proofs = chain.Job
	}
	var chainPay *httpapi.ChainPayments
	if chain != nil {
		chainPay = chain.Payments
	}
	api, err := mountAPI(mux, c, store, leases, proofs, notifier, chainPay, log)
	if err != nil {
		return err
	}
	ln, err := listenHTTP(c)
	if err != nil {
		return err
	}
	srv := newHTTPServer(mux) // slow-client limits: slowclient.go
	go srv.Serve(ln)
	log.Info("HTTP listening", "addr", ln.Addr().String())

	errc := make(chan error, 2)
	if pgNotify != nil {
		go func() { errc <- pgNotify.Run(ctx) }()
	}
	go func() { errc <- in.Run(ctx, client) }()
	go api.Run(ctx)
	go chain.watchPayments(ctx, api, log.With("component", "payments")) // escrow funding, rental ends, RANDPAY
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	n := 1
	if pgNotify != nil {
		n = 2
	}
	var errs []error
	for range n {
		select {
		case err := <-errc:
			errs = append(errs, err)
		case <-sctx.Done():
			errs = append(errs, errors.New("shutdown: ingest did not stop within 10s"))
		}
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

func dbKind(c *Config) string {
	if c.DB != "" {
		return "postgres"
	}
	return "sqlite"
}
