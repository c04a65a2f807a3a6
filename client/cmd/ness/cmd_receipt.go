package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ness-network/ness-sms/hub/chainjob"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/proof"
)

func init() {
	register(&command{name: "verify-receipt", summary: "check a delivery receipt's inclusion proof against its Merkle root anchored on Emercoin", run: runVerifyReceipt})
}

// maxProofInput bounds the proof file read (a path is 64 hashes at most).
const maxProofInput = 1 << 20

// verifyReceiptJSON is what verify-receipt prints on success.
type verifyReceiptJSON struct {
	OK         bool       `json:"ok"`
	MessageID  string     `json:"message_id"`
	Name       string     `json:"name"`
	MerkleRoot proof.Hash `json:"merkle_root"`
	Count      int64      `json:"count"`
	Period     string     `json:"period"`
	Index      int64      `json:"index"`
}

func runVerifyReceipt(env *cmdEnv, args []string) error {
	fs := newFlags(env, "verify-receipt", "--rpc URL --proof FILE [--rpc-user U --rpc-password P | --rpc-cookie FILE]\n\n"+
		"Reads an inclusion proof as the hub serves it ({hub_id, day, name, message_id, receipt, proof}; FILE\n"+
		"\"-\" is stdin), reads ness:proofs:sms:<hub id>:<YYYYMMDD> from an emercoind (or the hub's\n"+
		"development chain) with name_show, and checks period, count and the audit path to the anchored\n"+
		"root. Exit 0 only when the receipt is in the anchored tree, 1 when it is not (or the day has no\n"+
		"anchor), 3 when the node could not be asked.")
	rpc := fs.String("rpc", "", "emercoind JSON-RPC URL, e.g. http://127.0.0.1:6662/ (required)")
	user := fs.String("rpc-user", "", "rpcuser")
	pass := fs.String("rpc-password", "", "rpcpassword (or NESS_EMC_PASSWORD)")
	cookie := fs.String("rpc-cookie", "", "emercoind .cookie file instead of user and password")
	file := fs.String("proof", "", "inclusion proof JSON (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for the node")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rpc == "" || *file == "" || fs.NArg() != 0 {
		return usageError("--rpc and --proof are required; no other arguments")
	}
	if *pass == "" {
		*pass = os.Getenv("NESS_EMC_PASSWORD")
	}
	var r io.Reader = env.stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxProofInput+1))
	if err != nil {
		return err
	}
	if len(b) > maxProofInput {
		return fmt.Errorf("proof file larger than %d bytes", maxProofInput)
	}
	in, err := chainjob.DecodeInclusion(b)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	day, _ := in.DayTime()
	c, err := emercoin.New(emercoin.Config{URL: *rpc, User: *user, Password: *pass, CookieFile: *cookie, Timeout: *timeout})
	if err != nil {
		return usageError("--rpc: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	a, err := proof.VerifyReceipt(ctx, c, in.HubID, day, in.Receipt, in.Proof)
	if err != nil {
		if errors.Is(err, proof.ErrMismatch) || errors.Is(err, proof.ErrMalformed) || errors.Is(err, emercoin.ErrNameNotFound) {
			return &exitError{code: 1, err: err}
		}
		return &exitError{code: 3, err: err} // could not check: node unreachable, …
	}
	name, _ := proof.Name(in.HubID, day)
	out := verifyReceiptJSON{OK: true, MessageID: in.MessageID, Name: name, MerkleRoot: a.MerkleRoot,
		Count: a.Count, Period: a.Period, Index: in.Proof.Index}
	enc := json.NewEncoder(env.stdout)
	return enc.Encode(out)
}
