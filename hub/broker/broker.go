// Package broker is the hub's embedded MQTT broker (github.com/mochi-mqtt/server/v2) with the
// production rules, and the files that make a Mosquitto broker enforce the same rules:
//
//   - no anonymous clients;
//   - an agent connects with client id = username = its agent id and the random password the
//     hub issued at enrolment, checked against the stored hash (see HashPassword);
//   - an agent may publish and subscribe only within ness/v1/agent/<its id>/ (and that topic);
//   - the hub's own clients use a separate credential with access to everything under ness/v1/.
//
// The same contract suite (hub/broker/brokertest) runs against the embedded broker and against a
// real Mosquitto started with the configuration MosquittoConf writes.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/ness-network/ness-sms/hub"
)

// TopicRoot is the root of every NESS topic; AgentTopicRoot + agent id + "/" is an agent's subtree.
const (
	TopicRoot      = "ness/v1/"
	AgentTopicRoot = "ness/v1/agent/"
)

// DefaultHubUsername is the MQTT username of the hub's own clients.
const DefaultHubUsername = "ness-hub"

// Lookup returns the stored password hash of an enrolled agent; ok is false for an agent the hub
// does not know (or has revoked). It is called on every agent connect.
type Lookup func(agentID string) (passwordHash string, ok bool)

// AgentGetter is the part of hub.Store that StoreLookup needs.
type AgentGetter interface {
	GetAgent(ctx context.Context, id string) (hub.Agent, error)
}

// StoreLookup is a Lookup reading the agents' password hashes from the hub's store.
func StoreLookup(s AgentGetter, log *slog.Logger) Lookup {
	return func(agentID string) (string, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, err := s.GetAgent(ctx, agentID)
		if err != nil {
			if !errors.Is(err, hub.ErrNotFound) && log != nil {
				log.Warn("mqtt auth: agent lookup failed", "agent", agentID, "err", err)
			}
			return "", false
		}
		return a.MQTTPasswordHash, a.MQTTPasswordHash != ""
	}
}

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address to listen on, e.g. "127.0.0.1:1883" (NESS_HUB_MQTT_LISTEN).
	Listen string
	// CertFile and KeyFile, both set, make the listener TLS (PEM files).
	CertFile, KeyFile string
	// HubUsername is the username of the hub's own clients; DefaultHubUsername when empty.
	HubUsername string
	// HubPasswordHash is the hub credential's hash (HashPassword). Required.
	HubPasswordHash string
	// Lookup finds agents' password hashes. Required.
	Lookup Lookup
	// Logger receives the broker's log; nil discards it.
	Logger *slog.Logger
}

// ListenError is returned by Start when the broker cannot listen on its address. Its message
// names the two settings that fix it.
type ListenError struct {
	Addr  string
	InUse bool // the address is taken by another program
	Err   error
}

func (e *ListenError) Error() string {
	what := "cannot listen on " + e.Addr
	if e.InUse {
		what = e.Addr + " is already in use"
	}
	return fmt.Sprintf("embedded MQTT broker: %s (%v): set NESS_HUB_MQTT_LISTEN to a free address, "+
		"or set NESS_HUB_MQTT_URL to use an external broker instead of the embedded one", what, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr net.Addr
	tls  bool
	ln   *trackingListener
}

// Start listens on cfg.Listen and serves MQTT until Close.
func Start(cfg Config) (*Broker, error) {
	if cfg.Lookup == nil {
		return nil, errors.New("embedded MQTT broker: no agent Lookup")
	}
	if cfg.HubUsername == "" {
		cfg.HubUsername = DefaultHubUsername
	}
	if err := ValidHash(cfg.HubPasswordHash); err != nil {
		return nil, fmt.Errorf("embedded MQTT broker: hub credential: %w", err)
	}
	if hub.ValidAgentID(cfg.HubUsername) || strings.ContainsAny(cfg.HubUsername, "/+#") {
		return nil, fmt.Errorf("embedded MQTT broker: hub username %q: must not look like an agent id or hold / + #", cfg.HubUsername)
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("embedded MQTT broker: TLS needs both a certificate file and a key file")
	}
	var tlsConfig *tls.Config
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("embedded MQTT broker: load TLS key pair: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, &ListenError{Addr: cfg.Listen, InUse: errors.Is(err, syscall.EADDRINUSE), Err: err}
	}
	addr := ln.Addr()
	tracked := newTrackingListener(ln)
	ln = tracked
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}

	srv := mqtt.New(&mqtt.Options{
		Logger:       log,
		InlineClient: false,
	})
	// An agent denied a publish must not learn more than Mosquitto would tell it.
	srv.Options.Capabilities.Compatibilities.ObscureNotAuthorized = true
	if err := srv.AddHook(&authHook{hubUser: cfg.HubUsername, hubHash: cfg.HubPasswordHash,
		lookup: cfg.Lookup, log: log}, nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("ness", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedded MQTT broker: serve: %w", err)
	}
	return &Broker{srv: srv, addr: addr, tls: tlsConfig != nil, ln: tracked}, nil
}

// Addr is the address the broker listens on, with the real port when Listen asked for port 0.
func (b *Broker) Addr() string { return b.addr.String() }

// URL is the broker's address as a paho broker URL: tcp://host:port, or ssl://host:port with TLS.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.addr.String()
	}
	return "tcp://" + b.addr.String()
}

// DisconnectAgent closes the connection of the agent with this id, if it is connected, and
// reports whether it was. Call it after revoking an agent: the broker checks credentials only when
// a client connects (Mosquitto does the same on SIGHUP after the password file changed).
func (b *Broker) DisconnectAgent(agentID string) bool {
	cl, ok := b.srv.Clients.Get(agentID)
	if !ok || cl.Closed() {
		return false
	}
	b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	return true
}

// Close disconnects every client and stops listening.
func (b *Broker) Close() error {
	b.ln.drain(2 * time.Second)
	return b.srv.Close()
}

// authHook enforces the production rules on the embedded broker.
type authHook struct {
	mqtt.HookBase
	hubUser string
	hubHash string
	lookup  Lookup
	log     *slog.Logger
}

func (h *authHook) ID() string { return "ness-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	switch {
	case user == "":
		h.log.Info("mqtt connect refused: anonymous", "remote", cl.Net.Remote)
		return false
	case user == h.hubUser:
		if CheckPassword(h.hubHash, pass) {
			return h.willAllowed(cl, pk, HubMayUse)
		}
		h.log.Warn("mqtt connect refused: wrong hub password", "remote", cl.Net.Remote)
		return false
	case !hub.ValidAgentID(user):
		h.log.Info("mqtt connect refused: username is not an agent id", "remote", cl.Net.Remote)
		return false
	case cl.ID != user:
		h.log.Warn("mqtt connect refused: client id is not the agent id", "agent", user, "remote", cl.Net.Remote)
		return false
	}
	hash, ok := h.lookup(user)
	if !ok || !CheckPassword(hash, pass) {
		h.log.Warn("mqtt connect refused: unknown agent or wrong password", "agent", user, "remote", cl.Net.Remote)
		return false
	}
	return h.willAllowed(cl, pk, func(topic string) bool { return AgentMayUse(user, topic) })
}

// willAllowed refuses a connection whose last will names a topic the client may not publish to.
// Mochi publishes (and retains) a will without an ACL check, so without this an agent could
// overwrite another agent's retained lease through its will; Mosquitto refuses such a CONNECT too.
func (h *authHook) willAllowed(cl *mqtt.Client, pk packets.Packet, may func(topic string) bool) bool {
	if !pk.Connect.WillFlag || may(pk.Connect.WillTopic) && !strings.ContainsAny(pk.Connect.WillTopic, "+#") {
		return true
	}
	h.log.Warn("mqtt connect refused: last will outside the client's topics", "user", string(pk.Connect.Username),
		"remote", cl.Net.Remote)
	return false
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == h.hubUser {
		return HubMayUse(topic)
	}
	return AgentMayUse(user, topic)
}

// AgentMayUse reports whether agent may publish to, or subscribe with, topic (a topic name or
// filter): only within ness/v1/agent/<agent>/ and that topic itself. Shared subscriptions and
// wildcards above the agent's own level are refused.
func AgentMayUse(agent, topic string) bool {
	if !hub.ValidAgentID(agent) {
		return false
	}
	own := AgentTopicRoot + agent
	return topic == own || strings.HasPrefix(topic, own+"/")
}

// HubMayUse reports whether the hub's credential may use topic: anything under ness/v1/, also
// through a shared subscription ($share/<group>/ness/v1/…).
func HubMayUse(topic string) bool {
	if rest, ok := strings.CutPrefix(topic, "$share/"); ok {
		_, filter, found := strings.Cut(rest, "/")
		if !found {
			return false
		}
		topic = filter
	}
	return strings.HasPrefix(topic, TopicRoot)
}
