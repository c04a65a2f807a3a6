package main

// Emercoin wiring: the chain the hub anchors proofs on (the embedded development chain or a
// real emercoind), the daily proof job, and the optional EmerDNS mirror record. Kept apart from
// main.go so run() only calls startChain.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/chainjob"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/listing"
	"github.com/ness-network/ness-sms/hub/payment"
	"github.com/ness-network/ness-sms/hub/proof"
	"github.com/ness-network/ness-sms/wire"
)

// ChainConfig is the Emercoin part of the configuration (NESS_HUB_EMC_*, NESS_HUB_ID,
// NESS_HUB_DNS_*).
type ChainConfig struct {
	RPC           string        `envconfig:"EMC_RPC" default:"embedded" desc:"emercoind JSON-RPC URL (http://host:6662/); embedded = development chain in <data dir>/emc-chain.json; off = no chain"`
	User          string        `envconfig:"EMC_USER" desc:"emercoind rpcuser"`
	Password      string        `envconfig:"EMC_PASSWORD" desc:"emercoind rpcpassword"`
	Cookie        string        `envconfig:"EMC_COOKIE" desc:"emercoind .cookie file (instead of user and password)"`
	Listen        string        `envconfig:"EMC_LISTEN" default:"127.0.0.1:0" desc:"embedded chain: JSON-RPC address (for ness verify-receipt --rpc); port 0 picks one, logged at start"`
	BlockInterval time.Duration `envconfig:"EMC_BLOCK_INTERVAL" default:"1m" desc:"embedded chain: a block is mined this often"`
	HubID         string        `envconfig:"ID" desc:"hub id in proof names ness:proofs:sms:<id>:<YYYYMMDD>; default hub-<12 hex of SHA-256 of the hub key>"`
	Proofs        bool          `envconfig:"PROOFS" default:"true" desc:"anchor each UTC day's receipts on the chain (run it on one instance per deployment)"`
	DNSName       string        `envconfig:"DNS_NAME" desc:"EmerDNS mirror name to publish as dns:<name> (e.g. gateway.private.ness); empty = none"`
	DNSA          string        `envconfig:"DNS_A" desc:"EmerDNS: comma-separated IPv4 and IPv6 addresses of the mirror"`
	DNSTXT        string        `envconfig:"DNS_TXT" desc:"EmerDNS: TXT value"`
	FeeBps        int           `envconfig:"FEE_BPS" default:"250" desc:"hub fee on escrow releases, basis points (0-10000)"`
	MinConf       int           `envconfig:"ESCROW_MINCONF" default:"6" desc:"confirmations before an escrow rental's lease begins"`
	FundingWindow time.Duration `envconfig:"ESCROW_FUNDING_WINDOW" default:"1h" desc:"an escrow rental with nothing paid after this is cancelled"`
	RandpayAmount string        `envconfig:"RANDPAY_AMOUNT" default:"1" desc:"RANDPAY challenge amount, EMC (a won challenge costs it; expected cost per SMS is amount/risk)"`
	RandpayRisk   int           `envconfig:"RANDPAY_RISK" default:"6" desc:"RANDPAY risk: 1 in risk challenges is won"`
	RandpayGrace  time.Duration `envconfig:"RANDPAY_GRACE" default:"10m" desc:"a RANDPAY challenge unanswered this long ends the rental"`
	PaymentsEvery time.Duration `envconfig:"PAYMENTS_EVERY" default:"5s" desc:"how often the payment watcher checks escrow funding, rental ends and RANDPAY challenges"`
}

// chainRuntime is what startChain started; Close stops it.
type chainRuntime struct {
	Client   *emercoin.Client
	Payments *httpapi.ChainPayments // nil: no on-chain rental payments (node down at start)
	every    time.Duration
	Job      *chainjob.Job // nil when proofs are off
	node     *emulator.Node
	stop     context.CancelFunc
	done     chan struct{}
}

// Close stops the proof job, the block timer and the embedded node.
func (r *chainRuntime) Close() {
	if r == nil {
		return
	}
	r.stop()
	<-r.done
	if r.node != nil {
		r.node.Close()
	}
}

func (r *chainRuntime) tick(ctx context.Context, log *slog.Logger) {
	if err := r.Job.Tick(ctx); err != nil && ctx.Err() == nil {
		log.Warn("proof anchoring failed; retrying in a minute", "err", err)
	}
}

func (c *ChainConfig) hubID(key *wire.Identity) string {
	if c.HubID != "" {
		return c.HubID
	}
	h := sha256.Sum256(key.Verify[:])
	return "hub-" + hex.EncodeToString(h[:6])
}

func (c *ChainConfig) dns() (*listing.DNS, error) {
	if c.DNSName == "" {
		return nil, nil
	}
	d := &listing.DNS{Domain: c.DNSName}
	for _, s := range strings.Split(c.DNSA, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("NESS_HUB_DNS_A %q: %w", s, err)
		}
		if ip.Is4() {
			d.A = append(d.A, ip)
		} else {
			d.AAAA = append(d.AAAA, ip)
		}
	}
	if c.DNSTXT != "" {
		d.TXT = []string{c.DNSTXT}
	}
	if _, err := d.Value(); err != nil {
		return nil, fmt.Errorf("NESS_HUB_DNS_NAME/A/TXT: %w", err)
	}
	return d, nil
}

// startChain reads ChainConfig, connects to (or starts) the chain, and runs the proof job
// and the EmerDNS record in the background until ctx ends or Close. A node that is down at
// start is logged, not fatal: the job retries.
func startChain(ctx context.Context, c *Config, store hub.Store, key *wire.Identity, log *slog.Logger) (*chainRuntime, error) {
	var cc ChainConfig
	if err := envconfig.Process(EnvPrefix, &cc); err != nil {
		return nil, err
	}
	log = log.With("component", "emercoin")
	if cc.RPC == "off" {
		log.Info("no chain: proofs and listings are not anchored (NESS_HUB_EMC_RPC=off)")
		return nil, nil
	}
	hubID := cc.hubID(key)
	if _, err := proof.Name(hubID, time.Now()); err != nil {
		return nil, fmt.Errorf("NESS_HUB_ID: %w", err)
	}
	d, err := cc.dns()
	if err != nil {
		return nil, err
	}
	rt := &chainRuntime{done: make(chan struct{})}
	ecfg := emercoin.Config{URL: cc.RPC, User: cc.User, Password: cc.Password, CookieFile: cc.Cookie}
	if cc.RPC == "embedded" {
		if cc.BlockInterval <= 0 {
			return nil, errors.New("NESS_HUB_EMC_BLOCK_INTERVAL: want a positive duration")
		}
		node, err := emulator.New(emulator.Config{Path: filepath.Join(c.DataDir, "emc-chain.json")})
		if err != nil {
			return nil, fmt.Errorf("NESS_HUB_EMC_RPC=embedded: %w", err)
		}
		ln, err := net.Listen("tcp", cc.Listen)
		if err != nil {
			return nil, fmt.Errorf("NESS_HUB_EMC_LISTEN %s: %w", cc.Listen, err)
		}
		ecfg = emercoin.Config{URL: node.Serve(ln)}
		rt.node = node
		log.Info("embedded development chain", "rpc", ecfg.URL, "file", filepath.Join(c.DataDir, "emc-chain.json"), "height", node.Height())
	} else if !strings.HasPrefix(cc.RPC, "http://") && !strings.HasPrefix(cc.RPC, "https://") {
		return nil, fmt.Errorf("NESS_HUB_EMC_RPC %q: want embedded, off or an http(s):// URL", cc.RPC)
	}
	client, err := emercoin.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("NESS_HUB_EMC_RPC: %w", err)
	}
	rt.Client = client
	if info, err := client.GetBlockchainInfo(ctx); err != nil {
		log.Warn("emercoin node not answering; proofs retry later", "rpc", redactURL(cc.RPC), "err", err)
	} else {
		log.Info("emercoin node", "chain", info.Chain, "blocks", info.Blocks)
	}
	if rt.Payments, err = chainPayments(ctx, c, &cc, client, store, log); err != nil {
		if rt.node != nil {
			rt.node.Close()
		}
		return nil, err
	}
	rt.every = cc.PaymentsEvery
	if cc.Proofs {
		rt.Job = &chainjob.Job{Store: store, Chain: client, HubID: hubID, Dir: filepath.Join(c.DataDir, "proofs"), Log: log}
	}
	jctx, stop := context.WithCancel(ctx)
	rt.stop = stop
	go func() {
		defer close(rt.done)
		if d != nil {
			p := &listing.Publisher{Chain: client}
			if txid, err := p.PublishDNS(jctx, *d); err != nil {
				log.Warn("EmerDNS record not published", "name", d.Name(), "err", err)
			} else if txid != "" {
				log.Info("EmerDNS record published", "name", d.Name(), "txid", txid)
			}
		}
		var blocks, proofs <-chan time.Time
		if rt.node != nil {
			t := time.NewTicker(cc.BlockInterval)
			defer t.Stop()
			blocks = t.C
		}
		if rt.Job != nil {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			proofs = t.C
			rt.tick(jctx, log)
		}
		for {
			select {
			case <-jctx.Done():
				return
			case <-blocks:
				if _, err := rt.node.Mine(1); err != nil {
					log.Warn("embedded chain: mine", "err", err)
				}
			case <-proofs:
				rt.tick(jctx, log)
			}
		}
	}()
	log.Info("chain ready", "hub_id", hubID, "proofs", cc.Proofs)
	return rt, nil
}

// redactURL hides the password of a URL with credentials (http://user:pass@host) for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// chainPayments builds the escrow and RANDPAY rental payments: payouts and wins go to the
// store (GET /v1/provider/earnings) and every payment event to <data dir>/payments.jsonl; the
// escrows' state is kept in <data dir>/payments-book.json. A node that does not answer at
// start leaves them off (logged): rentals are then paid with dev only.
func chainPayments(ctx context.Context, c *Config, cc *ChainConfig, client *emercoin.Client, store hub.Store, log *slog.Logger) (*httpapi.ChainPayments, error) {
	amount, err := emercoin.ParseAmount(cc.RandpayAmount)
	if err != nil || amount <= 0 {
		return nil, fmt.Errorf("NESS_HUB_RANDPAY_AMOUNT %q: want a positive EMC amount", cc.RandpayAmount)
	}
	switch {
	case cc.RandpayRisk < 1:
		return nil, fmt.Errorf("NESS_HUB_RANDPAY_RISK %d: want 1 or more", cc.RandpayRisk)
	case cc.FeeBps < 0 || cc.FeeBps > 10000:
		return nil, fmt.Errorf("NESS_HUB_FEE_BPS %d: want 0..10000", cc.FeeBps)
	case cc.MinConf < 1:
		return nil, fmt.Errorf("NESS_HUB_ESCROW_MINCONF %d: want 1 or more", cc.MinConf)
	case cc.PaymentsEvery <= 0:
		return nil, errors.New("NESS_HUB_PAYMENTS_EVERY: want a positive duration")
	}
	netw := emercoin.MainNet
	switch c.EmercoinNet {
	case "test":
		netw = emercoin.TestNet
	case "regtest":
		netw = emercoin.RegTest
	}
	fee := ""
	if cc.FeeBps > 0 {
		if fee, err = client.GetNewAddress(ctx, "ness-hub-fee", "legacy"); err != nil {
			log.Warn("no escrow or RANDPAY rentals: the node gives no fee address; rentals are paid with dev only", "err", err)
			return nil, nil
		}
	}
	ledger := &payment.StoreLedger{Store: store, Next: &payment.FileLedger{Path: filepath.Join(c.DataDir, "payments.jsonl")},
		Log: log.With("component", "ledger")}
	return &httpapi.ChainPayments{
		Escrows:       &payment.Escrows{Node: client, Network: netw, Ledger: ledger, FeeBps: cc.FeeBps, FeeAddress: fee, MinConf: cc.MinConf},
		Payee:         &payment.Payee{Node: client, Ledger: ledger, Amount: amount, Risk: cc.RandpayRisk},
		Book:          &payment.Book{Path: filepath.Join(c.DataDir, "payments-book.json")},
		Network:       netw,
		FundingWindow: cc.FundingWindow,
		Grace:         cc.RandpayGrace,
	}, nil
}

// watchPayments runs the API's payment watcher every rt.every until ctx ends.
func (r *chainRuntime) watchPayments(ctx context.Context, api *httpapi.Server, log *slog.Logger) {
	if r == nil || r.Payments == nil {
		return
	}
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := api.TickPayments(ctx); err != nil && ctx.Err() == nil {
				log.Warn("payment watcher", "err", err) // one line per tick at most
			}
		}
	}
}
