package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/hub/lease"
)

// normalizeAPI checks and defaults the HTTPS API settings; errors name the variable.
func (c *Config) normalizeAPI() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("NESS_HUB_TLS_CERT and NESS_HUB_TLS_KEY: set both or neither")
	}
	if c.TLSCert == "" {
		if err := httpapi.CheckPlainHTTP(c.HTTPAddr, c.AllowPlain); err != nil {
			return err
		}
	}
	if c.Origin == "" {
		scheme := "https"
		if c.TLSCert == "" {
			scheme = "http"
		}
		host, port, err := net.SplitHostPort(c.HTTPAddr)
		if err != nil {
			return fmt.Errorf("NESS_HUB_HTTP_ADDR %q: %w", c.HTTPAddr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.Origin = scheme + "://" + net.JoinHostPort(host, port)
	}
	if !strings.HasPrefix(c.Origin, "https://") && !strings.HasPrefix(c.Origin, "http://") || strings.HasSuffix(c.Origin, "/") {
		return fmt.Errorf("NESS_HUB_ORIGIN %q: want scheme://host[:port] with no path, as clients reach the hub", c.Origin)
	}
	if c.EmercoinNet == "" {
		c.EmercoinNet = "main"
	}
	switch c.EmercoinNet {
	case "main", "test", "regtest", "off":
	default:
		return fmt.Errorf("NESS_HUB_EMERCOIN_NETWORK %q: want main, test, regtest or off", c.EmercoinNet)
	}
	return nil
}

// mountAPI builds the HTTPS API on the hub's store, key, broker client and notifier and mounts
// it under /v1/ on mux. Run the returned server's Run for live delivery.
func mountAPI(mux *http.ServeMux, c *Config, store hub.Store, leases *lease.Issuer, proofs httpapi.Prover,
	notifier ingest.Notifier, chainPay *httpapi.ChainPayments, log *slog.Logger) (*httpapi.Server, error) {
	n, ok := notifier.(httpapi.Notifier)
	if !ok {
		return nil, fmt.Errorf("notifier %T cannot be subscribed to", notifier)
	}
	var chain *emercoin.Network
	switch c.EmercoinNet {
	case "main":
		chain = &emercoin.MainNet
	case "test":
		chain = &emercoin.TestNet
	case "regtest":
		chain = &emercoin.RegTest
	}
	api, err := httpapi.New(httpapi.Config{Store: store, Notify: n, Origin: c.Origin, Emercoin: chain,
		Leases: leases, Proofs: proofs, Chain: chainPay, AllowPrivateWebhooks: c.WebhookAllowPrivate, Log: log.With("component", "httpapi")})
	if err != nil {
		return nil, err
	}
	mux.Handle("/v1/", api.Handler())
	return api, nil
}

// listenHTTP listens on NESS_HUB_HTTP_ADDR, with TLS when a certificate is configured.
func listenHTTP(c *Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("NESS_HUB_HTTP_ADDR %s: %w", c.HTTPAddr, err)
	}
	if c.TLSCert == "" {
		return ln, nil
	}
	pair, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("NESS_HUB_TLS_CERT/NESS_HUB_TLS_KEY: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}}), nil
}

// devCert writes a local CA and server certificate into <data dir>/tls and says how to use them.
func devCert(c *Config, hosts []string, stdout io.Writer) error {
	f, err := httpapi.DevCert(filepath.Join(c.DataDir, "tls"), hosts, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a local CA and a certificate for localhost, 127.0.0.1, ::1%s\n"+
		"  export NESS_HUB_TLS_CERT=%s\n  export NESS_HUB_TLS_KEY=%s\n"+
		"clients trust the CA: %s (e.g. curl --cacert)\n", strings.Join(append([]string{""}, hosts...), ", "), f.Cert, f.Key, f.CA)
	return nil
}
