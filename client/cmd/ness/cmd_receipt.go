package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	fs := newFlags(env, "verify-receipt", "--rpc URL (--proof FILE | --message ID [--hub URL --token T]) [--rpc-user U --rpc-password P | --rpc-cookie FILE]\n\n"+
		"Reads an inclusion proof as the hub serves it ({hub_id, day, name, message_id, receipt, proof}):\n"+
		"from FILE (\"-\" is stdin), or with --message fetched from the hub (GET /v1/messages/{id}/proof,\n"+
		"signed in as the message's renter: --hub/--token, $NESS_HUB_URL/$NESS_TOKEN or ness login). Then\n"+
		"reads ness:proofs:sms:<hub id>:<YYYYMMDD> from an emercoind (or the hub's development chain) with\n"+
		"name_show, and checks period, count and the audit path to the anchored root. The hub is not trusted\n"+
		"for the anchor: it is always read from --rpc. Exit 0 only when the receipt is in the anchored tree,\n"+
		"1 when it is not (or the day has no anchor, or the hub has no proof of the message), 3 when the\n"+
		"node or the hub could not be asked.")
	rpc := fs.String("rpc", "", "emercoind JSON-RPC URL, e.g. http://127.0.0.1:6662/ (required)")
	user := fs.String("rpc-user", "", "rpcuser")
	pass := fs.String("rpc-password", "", "rpcpassword (or NESS_EMC_PASSWORD)")
	cookie := fs.String("rpc-cookie", "", "emercoind .cookie file instead of user and password")
	file := fs.String("proof", "", "inclusion proof JSON (this or --message)")
	message := fs.String("message", "", "message id: fetch its proof from the hub (this or --proof)")
	hf := addHubFlags(fs, false)
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for the node and the hub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rpc == "" || (*file == "") == (*message == "") || fs.NArg() != 0 {
		return usageError("--rpc and one of --proof or --message are required; no other arguments")
	}
	if *pass == "" {
		*pass = os.Getenv("NESS_EMC_PASSWORD")
	}
	var b []byte
	var err error
	if *message != "" {
		if b, err = fetchProof(hf, *message, *timeout); err != nil {
			return err
		}
	} else if b, err = readProofFile(env, *file); err != nil {
		return err
	}
	in, err := chainjob.DecodeInclusion(b)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if *message != "" && in.MessageID != *message {
		return &exitError{code: 1, err: fmt.Errorf("the hub answered with the proof of message %s, not %s", in.MessageID, *message)}
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

// readProofFile reads an inclusion proof from file ("-": stdin), at most maxProofInput bytes.
func readProofFile(env *cmdEnv, file string) ([]byte, error) {
	var r io.Reader = env.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxProofInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxProofInput {
		return nil, fmt.Errorf("proof file larger than %d bytes", maxProofInput)
	}
	return b, nil
}

// fetchProof asks the hub for the inclusion proof of message id (GET /v1/messages/{id}/proof) and
// returns its exact bytes; only the anchor check that follows makes them trustworthy. A hub that
// has no proof (unknown message, day not anchored yet) is exit 1; one that cannot be asked, exit 3.
func fetchProof(hf *hubFlags, id string, timeout time.Duration) ([]byte, error) {
	h, _, err := hf.connect(true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	u := h.URL() + "/v1/messages/" + url.PathEscape(id) + "/proof"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, usageError("--message %q: %v", id, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.Token)
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return nil, &exitError{code: 3, err: fmt.Errorf("hub %s: %w", h.URL(), err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProofInput+1))
	if err != nil {
		return nil, &exitError{code: 3, err: fmt.Errorf("hub %s: read proof: %w", h.URL(), err)}
	}
	if len(b) > maxProofInput {
		return nil, &exitError{code: 1, err: fmt.Errorf("hub %s: proof larger than %d bytes", h.URL(), maxProofInput)}
	}
	if resp.StatusCode == http.StatusOK {
		return b, nil
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		msg = fmt.Sprintf("%s (HTTP %d): %s", e.Error.Code, resp.StatusCode, e.Error.Message)
	}
	err = fmt.Errorf("hub %s: no proof of message %s: %s", h.URL(), id, msg)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusConflict:
		return nil, &exitError{code: 1, err: err} // no such message of yours, or not anchored yet
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, usageError("%v (sign in again: ness login)", err)
	}
	return nil, &exitError{code: 3, err: err}
}
