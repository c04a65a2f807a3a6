// Package mqttlink is the agent's connection to the MQTT broker, built on
// github.com/eclipse/paho.mqtt.golang (MQTT 3.1.1).
//
// It keeps one persistent session (CleanSession false, client id = username = agent id), so
// the broker queues the agent's QoS 1 receipts while it is away; registers a retained last will
// (the signed "offline" status); reconnects with jittered exponential backoff (paho's own
// reconnect is switched off: it has no jitter, and a fleet of boards coming back after a broker
// restart must not reconnect in lock step); and subscribes again to its filters on every
// connection, so retained leases arrive again and nothing depends on the broker having kept the
// subscriptions.
//
// Publish sends with QoS 1 and returns when the broker's PUBACK arrives, the connection is
// down, or the context ends. It never queues without bound: a publish while disconnected fails
// at once with ErrNotConnected and the caller (the pipeline, whose outbox is durable) tries
// again later.
//
// Goroutines: Run owns the connect/backoff loop; paho's goroutines call the message handler
// (concurrently: OrderMatters is off, so a slow fsync in one handler does not hold up the
// others) and the connect/lost callbacks, which only touch the atomic state and the channels.
package mqttlink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ErrNotConnected is returned by Publish while the link is down.
var ErrNotConnected = errors.New("mqtt: not connected")

// Will is the last will the broker publishes when the agent disappears without a clean
// disconnect.
type Will struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Config configures a Link. Fields named after environment variables are reported with that
// name when invalid.
type Config struct {
	URL      string // NESS_AGENT_MQTT_URL: tcp://host:port or ssl://host:port
	ClientID string // the agent id; also the username unless Username is set
	Username string // default ClientID
	Password string // NESS_AGENT_MQTT_PASSWORD
	CAFile   string // NESS_AGENT_MQTT_CA: PEM CA bundle for ssl:// (default: system roots)
	CertFile string // NESS_AGENT_MQTT_CERT: PEM client certificate for ssl://
	KeyFile  string // NESS_AGENT_MQTT_KEY: PEM client key for ssl://

	KeepAlive      time.Duration // default 30 s
	ConnectTimeout time.Duration // default 10 s
	MinBackoff     time.Duration // first reconnect delay ceiling; default 500 ms
	MaxBackoff     time.Duration // reconnect delay ceiling; default 60 s

	Will          *Will
	Subscriptions []string // filters subscribed with QoS 1 on every connection
	// OnMessage receives every message on the subscriptions, on a paho goroutine, possibly
	// concurrently. payload is the caller's to keep.
	OnMessage func(topic string, payload []byte)
	// OnConnect is called (on its own goroutine) after each connection's subscriptions are
	// made, e.g. to republish retained status.
	OnConnect func()
	Logger    *slog.Logger
}

// Link is a broker connection; see the package documentation.
type Link struct {
	cfg    Config
	client mqtt.Client
	log    *slog.Logger

	connected atomic.Bool
	lost      chan struct{} // one slot: the connection was lost (paho callback → Run)

	mu      sync.Mutex    // guards changed
	changed chan struct{} // closed and replaced on every connect and disconnect

	connects atomic.Uint64
}

// New checks cfg and builds the client; it does not connect (Run does).
func New(cfg Config) (*Link, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("mqtt: client id (the agent id) is empty")
	}
	if cfg.Username == "" {
		cfg.Username = cfg.ClientID
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("mqtt: max backoff %s is below min backoff %s", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("NESS_AGENT_MQTT_URL: %q is not a URL like tcp://host:1883 or ssl://host:8883", cfg.URL)
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(cfg.KeepAlive / 2).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetWriteTimeout(cfg.ConnectTimeout).
		SetResumeSubs(false)
	switch u.Scheme {
	case "tcp":
		if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
			return nil, fmt.Errorf("NESS_AGENT_MQTT_URL: %s is plain tcp://, but TLS files (NESS_AGENT_MQTT_CA/CERT/KEY) are set: use ssl://", cfg.URL)
		}
	case "ssl":
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	default:
		return nil, fmt.Errorf("NESS_AGENT_MQTT_URL: scheme %q is not tcp or ssl", u.Scheme)
	}
	if cfg.Will != nil {
		opts.SetBinaryWill(cfg.Will.Topic, cfg.Will.Payload, 1, cfg.Will.Retained)
	}
	l := &Link{cfg: cfg, log: cfg.Logger, lost: make(chan struct{}, 1), changed: make(chan struct{})}
	opts.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		if cfg.OnMessage != nil {
			cfg.OnMessage(m.Topic(), append([]byte(nil), m.Payload()...))
		}
	})
	opts.SetOnConnectHandler(func(c mqtt.Client) { go l.onConnect(c) })
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		l.log.Warn("mqtt connection lost", "err", err)
		l.setConnected(false)
		select {
		case l.lost <- struct{}{}:
		default:
		}
	})
	l.client = mqtt.NewClient(opts)
	return l, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("NESS_AGENT_MQTT_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("NESS_AGENT_MQTT_CA: %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("NESS_AGENT_MQTT_CERT and NESS_AGENT_MQTT_KEY must be set together")
	}
	if cfg.CertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("NESS_AGENT_MQTT_CERT/NESS_AGENT_MQTT_KEY: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// onConnect subscribes to every filter and then tells the caller.
func (l *Link) onConnect(c mqtt.Client) {
	if len(l.cfg.Subscriptions) > 0 {
		filters := make(map[string]byte, len(l.cfg.Subscriptions))
		for _, f := range l.cfg.Subscriptions {
			filters[f] = 1
		}
		tok := c.SubscribeMultiple(filters, nil)
		if !tok.WaitTimeout(l.cfg.ConnectTimeout) || tok.Error() != nil {
			err := tok.Error()
			if err == nil {
				err = errors.New("no SUBACK in time")
			}
			// Without the receipt subscription nothing could leave the outbox: drop the
			// connection and let Run try again.
			l.log.Error("mqtt subscribe failed; reconnecting", "filters", l.cfg.Subscriptions, "err", err)
			c.Disconnect(0)
			l.setConnected(false)
			select {
			case l.lost <- struct{}{}:
			default:
			}
			return
		}
	}
	l.setConnected(true)
	if l.cfg.OnConnect != nil {
		l.cfg.OnConnect()
	}
}

func (l *Link) setConnected(v bool) {
	if l.connected.Swap(v) == v {
		return
	}
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Connected reports whether the link is up with its subscriptions in place.
func (l *Link) Connected() bool { return l.connected.Load() }

// Changed returns a channel closed at the next connect or disconnect.
func (l *Link) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// Connects returns how many connections have been made.
func (l *Link) Connects() uint64 { return l.connects.Load() }

// Backoff returns the delay before reconnect attempt n (0-based): a uniformly random duration
// in [ceiling/2, ceiling], where ceiling = min(max, min·2^n) ("equal jitter").
func Backoff(n int, minD, maxD time.Duration, rnd func(int64) int64) time.Duration {
	ceil := minD
	for i := 0; i < n && ceil < maxD; i++ {
		ceil *= 2
	}
	ceil = min(ceil, maxD)
	half := ceil / 2
	return half + time.Duration(rnd(int64(ceil-half)+1))
}

// Run connects and keeps the link up until ctx ends, then disconnects (quiesce up to 250 ms)
// and returns nil.
func (l *Link) Run(ctx context.Context) error {
	attempt := 0
	defer func() {
		l.client.Disconnect(250)
		l.setConnected(false)
	}()
	for {
		select { // a stale signal from the previous connection
		case <-l.lost:
		default:
		}
		tok := l.client.Connect()
		var err error
		select {
		case <-tok.Done():
			err = tok.Error()
		case <-ctx.Done():
			return nil
		}
		if err == nil {
			l.connects.Add(1)
			l.log.Info("mqtt connected", "broker", l.cfg.URL, "client_id", l.cfg.ClientID, "session_present", tok.(*mqtt.ConnectToken).SessionPresent())
			up := time.Now()
			select {
			case <-ctx.Done():
				return nil
			case <-l.lost:
			}
			if time.Since(up) > l.cfg.MaxBackoff {
				attempt = 0
			}
		} else {
			l.log.Warn("mqtt connect failed", "broker", l.cfg.URL, "attempt", attempt+1, "err", err)
		}
		d := Backoff(attempt, l.cfg.MinBackoff, l.cfg.MaxBackoff, rand.Int64N)
		attempt++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Publish sends payload on topic with QoS 1 and waits for the broker's PUBACK.
func (l *Link) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if !l.connected.Load() {
		return ErrNotConnected
	}
	tok := l.client.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish %s: no PUBACK: %w", topic, ctx.Err())
	}
}
