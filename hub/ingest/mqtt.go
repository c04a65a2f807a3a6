package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/wire"
)

// ClientConfig says how the hub connects to the broker.
type ClientConfig struct {
	URL      string // tcp://host:port or ssl://host:port
	ClientID string // fixed per hub instance: the persistent session is keyed on it
	Username string
	Password string
	TLS      *tls.Config // for ssl:// URLs; nil: system roots
	// OnConnect, when set, is called after every successful connect (paho calls it on its own
	// goroutine). Do not replace the options' OnConnect handler: it also makes Run subscribe
	// again.
	OnConnect func(mqtt.Client)
}

// ClientOptions returns paho options for the hub's ingest client: MQTT 3.1.1, persistent
// session (clean session off), unordered delivery and manual acknowledgement (see Run),
// automatic reconnect with backoff up to 30s. On every connect (the first and each reconnect)
// the client subscribes again to what a running Run subscribes to: a broker restarted without
// persistence (or a lost session) answers session_present=false and has forgotten the
// subscriptions, and paho does not restore them.
func ClientOptions(c ClientConfig) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker(c.URL).
		SetClientID(c.ClientID).
		SetUsername(c.Username).
		SetPassword(c.Password).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetOrderMatters(false).
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetMessageChannelDepth(1024).
		SetOnConnectHandler(func(cl mqtt.Client) {
			runConnectHook(cl)
			if c.OnConnect != nil {
				c.OnConnect(cl)
			}
		})
	if c.TLS != nil {
		o.SetTLSConfig(c.TLS)
	}
	return o
}

// connectHooks holds, per client, what Run does on every connect (subscribe again). Clients
// made with ClientOptions call runConnectHook from their OnConnect handler.
var connectHooks struct {
	sync.Mutex
	m map[mqtt.Client]func(mqtt.Client)
}

func setConnectHook(c mqtt.Client, f func(mqtt.Client)) {
	connectHooks.Lock()
	defer connectHooks.Unlock()
	if f == nil {
		delete(connectHooks.m, c)
		return
	}
	if connectHooks.m == nil {
		connectHooks.m = map[mqtt.Client]func(mqtt.Client){}
	}
	connectHooks.m[c] = f
}

func runConnectHook(c mqtt.Client) {
	connectHooks.Lock()
	f := connectHooks.m[c]
	connectHooks.Unlock()
	if f != nil {
		f(c)
	}
}

// MQTTPublisher publishes through a paho client, waiting for the broker's acknowledgement.
type MQTTPublisher struct{ Client mqtt.Client }

// Publish implements Publisher.
func (p MQTTPublisher) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	tok := p.Client.Publish(topic, qos, retained, payload)
	if err := waitToken(ctx, tok); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// Enroll accepts an agent certificate uploaded by its provider (the JSON form): it must verify
// at now. The agent is stored (or its certificate replaced) with a new random MQTT password,
// whose hash only is kept; the password is returned once, for the provider to give the agent.
func Enroll(ctx context.Context, s hub.Store, certJSON []byte, now time.Time) (hub.Agent, string, error) {
	c, err := wire.DecodeAgentCert(certJSON)
	if err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: certificate: %w", err)
	}
	if err := c.Verify(now); err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: certificate: %w", err)
	}
	canon, err := c.MarshalJSON()
	if err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: certificate: %w", err)
	}
	pass, err := broker.NewPassword()
	if err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: %w", err)
	}
	hash, err := broker.HashPassword(pass)
	if err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: %w", err)
	}
	a := hub.Agent{ID: c.AgentID, PublicKey: c.AgentKey[:], ProviderKey: c.ProviderVerify[:],
		Certificate: canon, MQTTPasswordHash: hash, EnrolledAt: now}
	if prev, err := s.GetAgent(ctx, c.AgentID); err == nil {
		a.LastSeen, a.Online = prev.LastSeen, prev.Online
	} else if !errors.Is(err, hub.ErrNotFound) {
		return hub.Agent{}, "", fmt.Errorf("enroll: %w", err)
	}
	if err := s.UpsertAgent(ctx, a); err != nil {
		return hub.Agent{}, "", fmt.Errorf("enroll: %w", err)
	}
	return a, pass, nil
}
