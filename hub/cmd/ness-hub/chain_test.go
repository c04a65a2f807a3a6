package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/payment"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/wire"
)

// TestEmbeddedChain: the default NESS_HUB_EMC_RPC=embedded serves the development chain over
// loopback JSON-RPC, mines blocks on its interval, publishes the EmerDNS record and keeps the
// chain in <data dir>/emc-chain.json across restarts.
func TestEmbeddedChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("NESS_HUB_EMC_BLOCK_INTERVAL", "20ms")
	t.Setenv("NESS_HUB_DNS_NAME", "gateway.private.ness")
	t.Setenv("NESS_HUB_DNS_A", "192.0.2.7, 2001:db8::7")
	store, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, _ := wire.GenerateIdentity()
	log := slog.New(slog.DiscardHandler)
	rt, err := startChain(ctx, &Config{DataDir: dir}, store, key, log)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Job == nil || !strings.HasPrefix(rt.Job.HubID, "hub-") {
		t.Fatalf("proof job: %+v", rt.Job)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, err := rt.Client.NameShow(ctx, "dns:gateway.private.ness")
		if err == nil {
			if string(rec.Value) != "A=192.0.2.7|AAAA=2001:db8::7" {
				t.Fatalf("dns record: %q", rec.Value)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("EmerDNS record not mined within 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := rt.Client.GetBlockchainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if _, err := os.Stat(filepath.Join(dir, "emc-chain.json")); err != nil {
		t.Fatal(err)
	}
	rt, err = startChain(ctx, &Config{DataDir: dir}, store, key, log)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	again, err := rt.Client.GetBlockchainInfo(ctx)
	if err != nil || again.Blocks < info.Blocks {
		t.Fatalf("after restart: height %d (%v), before %d", again.Blocks, err, info.Blocks)
	}
}

func TestChainConfigErrors(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{"NESS_HUB_EMC_RPC", "emercoind:6662", "NESS_HUB_EMC_RPC"},
		{"NESS_HUB_ID", "Hub With Spaces", "NESS_HUB_ID"},
		{"NESS_HUB_DNS_NAME", "nodot", "NESS_HUB_DNS_NAME"},
		{"NESS_HUB_EMC_BLOCK_INTERVAL", "0s", "NESS_HUB_EMC_BLOCK_INTERVAL"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			key, _ := wire.GenerateIdentity()
			_, err := startChain(context.Background(), &Config{DataDir: t.TempDir()}, nil, key, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s=%s: got %v, want an error naming %s", c.env, c.value, err, c.want)
			}
		})
	}
	var out, errb bytes.Buffer
	Main([]string{"--help"}, &out, &errb)
	for _, v := range []string{"EMC_RPC", "EMC_USER", "EMC_PASSWORD", "EMC_COOKIE", "ID", "DNS_NAME", "PROOFS"} {
		if !strings.Contains(out.String(), "NESS_HUB_"+v+" ") {
			t.Errorf("--help lacks NESS_HUB_%s", v)
		}
	}
}

// TestUnreachableNodeIsNotFatal: a real node that is down at start is logged; the hub runs.
func TestUnreachableNodeIsNotFatal(t *testing.T) {
	t.Setenv("NESS_HUB_EMC_RPC", "http://127.0.0.1:1/")
	t.Setenv("NESS_HUB_PROOFS", "false")
	var logs bytes.Buffer
	key, _ := wire.GenerateIdentity()
	rt, err := startChain(context.Background(), &Config{DataDir: t.TempDir()}, nil, key, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if rt.Job != nil {
		t.Error("NESS_HUB_PROOFS=false still made a proof job")
	}
	if !strings.Contains(logs.String(), "not answering") {
		t.Errorf("log lacks the unreachable warning: %s", logs.String())
	}
}

// TestRPCPasswordNotLogged: credentials written into NESS_HUB_EMC_RPC (http://user:pass@host)
// work as basic auth, and must not reach the log.
func TestRPCPasswordNotLogged(t *testing.T) {
	t.Setenv("NESS_HUB_EMC_RPC", "http://ness:s3cret-rpc@127.0.0.1:1/")
	t.Setenv("NESS_HUB_PROOFS", "false")
	var logs bytes.Buffer
	key, _ := wire.GenerateIdentity()
	rt, err := startChain(context.Background(), &Config{DataDir: t.TempDir()}, nil, key, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if !strings.Contains(logs.String(), "not answering") {
		t.Fatalf("log lacks the unreachable warning: %s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cret-rpc") {
		t.Errorf("log holds the RPC password: %s", logs.String())
	}
}

// TestChainPaymentsWired: with the embedded chain, escrow and RANDPAY payments are on, their
// events reach the store ledger (GET /v1/provider/earnings) through <data dir>/payments.jsonl,
// and a bad setting is refused naming its variable.
func TestChainPaymentsWired(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, _ := wire.GenerateIdentity()
	rt, err := startChain(ctx, &Config{DataDir: dir}, store, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	p := rt.Payments
	if p == nil || p.Escrows.FeeBps != 250 || p.Escrows.FeeAddress == "" || p.Escrows.MinConf != 6 || p.Payee.Risk != 6 {
		t.Fatalf("chain payments: %+v, want escrow at 250 bps with a fee address, 6 confirmations, RANDPAY risk 6", p)
	}
	l, ok := p.Escrows.Ledger.(*payment.StoreLedger)
	if !ok || l.Store != store || p.Payee.Ledger != p.Escrows.Ledger {
		t.Fatalf("ledger %T: want one *payment.StoreLedger on the hub's store for escrow and RANDPAY", p.Escrows.Ledger)
	}
	if err := l.Record(ctx, payment.Event{Kind: "randpay_win", Rental: "rnt_x", Chap: "1.00:6:ab", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if evs, err := payment.ReadLedger(filepath.Join(dir, "payments.jsonl")); err != nil || len(evs) != 1 {
		t.Fatalf("payments.jsonl: %d events, %v; want the recorded one", len(evs), err)
	}
	t.Setenv("NESS_HUB_FEE_BPS", "10001")
	if _, err := startChain(ctx, &Config{DataDir: t.TempDir()}, store, key, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "NESS_HUB_FEE_BPS") {
		t.Fatalf("NESS_HUB_FEE_BPS=10001: got %v, want an error naming the variable", err)
	}
}
