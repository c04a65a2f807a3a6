package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// wire/testdata/vectors.json holds test vectors another implementation can check (see
// docs/PROTOCOL.md and scripts/interop.py). Regenerate with: go test ./wire -run TestVectors -update
var update = flag.Bool("update", false, "rewrite wire/testdata/vectors.json")

const vectorsPath = "testdata/vectors.json"

type vectorIdentity struct {
	Name    string `json:"name"`
	Seed    string `json:"seed"`
	Verify  string `json:"verify"`
	Public  string `json:"public"`
	AgentID string `json:"agent_id"`
}

type vectorMessage struct {
	Kind      string          `json:"kind"`
	Signer    string          `json:"signer"` // identity name
	JSON      json.RawMessage `json:"json,omitempty"`
	Origin    string          `json:"origin,omitempty"`    // signin only
	Challenge string          `json:"challenge,omitempty"` // signin only, hex
	SignedHex string          `json:"signed_hex"`
	Sig       string          `json:"sig"`
}

type vectorBox struct {
	Recipient string `json:"recipient"` // identity name
	Box       string `json:"box"`
	Plaintext string `json:"plaintext"` // base64
}

type vectorFile struct {
	Comment    string           `json:"comment"`
	Identities []vectorIdentity `json:"identities"`
	MessageID  struct {
		AgentID string   `json:"agent_id"`
		ICCID   string   `json:"iccid"`
		Parts   []string `json:"parts_hex"`
		ID      string   `json:"id"`
	} `json:"message_id"`
	Messages []vectorMessage `json:"messages"`
	Boxes    []vectorBox     `json:"boxes"`
}

// countingReader yields 0x00, 0x01, … so vector boxes are reproducible.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func buildVectors(t *testing.T) *vectorFile {
	f := newFixture(t)
	v := &vectorFile{Comment: "NESS SMS protocol v1 test vectors; see docs/PROTOCOL.md. Keys and signatures base64 (standard, padded), bytes hex where named *_hex."}
	ids := map[string]*Identity{"agent": f.agent, "provider": f.provider, "hub": f.hub, "renter": f.renter, "privateness": seedIdentity(t, 0)}
	for _, name := range []string{"privateness", "agent", "provider", "hub", "renter"} {
		id := ids[name]
		v.Identities = append(v.Identities, vectorIdentity{Name: name, Seed: b64(id.Seed()), Verify: id.Verify.String(), Public: id.Public.String(), AgentID: id.AgentID()})
	}
	v.MessageID.AgentID, v.MessageID.ICCID = f.agent.AgentID(), f.iccid
	for _, p := range f.parts {
		v.MessageID.Parts = append(v.MessageID.Parts, hex.EncodeToString(p))
	}
	v.MessageID.ID = MessageID(f.agent.AgentID(), f.iccid, f.parts)

	pt, err := f.pt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body, err := SealFrom(&countingReader{}, f.renter.Public, pt)
	if err != nil {
		t.Fatal(err)
	}
	sms := &SMS{Version: 1, ID: v.MessageID.ID, AgentID: f.agent.AgentID(), Slot: 3, ICCID: f.iccid,
		Received: f.now, LeaseSeq: 7, Recipient: f.renter.Public, Body: body}
	if err := sms.Sign(f.agent); err != nil {
		t.Fatal(err)
	}
	v.Boxes = append(v.Boxes, vectorBox{Recipient: "renter", Box: b64(body), Plaintext: b64(pt)})
	box2, _ := SealFrom(&countingReader{n: 100}, ids["privateness"].Public, []byte("hello NESS"))
	v.Boxes = append(v.Boxes, vectorBox{Recipient: "privateness", Box: b64(box2), Plaintext: b64([]byte("hello NESS"))})

	add := func(kind, signer string, m interface {
		SignedBytes() []byte
	}, sig []byte) {
		j, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		v.Messages = append(v.Messages, vectorMessage{Kind: kind, Signer: signer, JSON: j, SignedHex: hex.EncodeToString(m.SignedBytes()), Sig: b64(sig)})
	}
	add("sms", "agent", sms, sms.Sig)
	c := f.cert(t)
	add("cert", "provider", c, c.Sig)
	l := f.lease(t)
	add("lease", "hub", l, l.Sig)
	r := f.receipt(t, sms.ID)
	add("receipt", "hub", r, r.Sig)
	s := f.status(t)
	add("status", "agent", s, s.Sig)
	ch := bytes.Repeat([]byte{0xc3}, 32)
	sig, _ := SignIn(f.renter, "https://hub.example", ch)
	v.Messages = append(v.Messages, vectorMessage{Kind: "signin", Signer: "renter", Origin: "https://hub.example",
		Challenge: hex.EncodeToString(ch), SignedHex: hex.EncodeToString(SignInBytes("https://hub.example", ch)), Sig: b64(sig)})
	return v
}

func TestVectors(t *testing.T) {
	if *update {
		b, _ := json.MarshalIndent(buildVectors(t), "", "  ")
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./wire -run TestVectors -update)", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	checkVectorFile(t, &v)
	// The committed file must equal what this code produces (Ed25519 and the counting reader
	// are deterministic), so a change to any canonical encoding shows up here.
	want, _ := json.MarshalIndent(buildVectors(t), "", "  ")
	if !bytes.Equal(bytes.TrimSpace(data), want) {
		t.Errorf("%s is out of date with the code: the protocol's bytes changed. If intended, run go test ./wire -run TestVectors -update and update docs/PROTOCOL.md", vectorsPath)
	}
}

func checkVectorFile(t *testing.T, v *vectorFile) {
	t.Helper()
	ids := map[string]*Identity{}
	for _, vi := range v.Identities {
		seed, _ := base64.StdEncoding.DecodeString(vi.Seed)
		id, err := IdentityFromSeed(seed)
		if err != nil {
			t.Fatalf("identity %s: %v", vi.Name, err)
		}
		if id.Verify.String() != vi.Verify || id.Public.String() != vi.Public || id.AgentID() != vi.AgentID {
			t.Errorf("identity %s: derived %s %s %s, vector says %s %s %s", vi.Name, id.Verify, id.Public, id.AgentID(), vi.Verify, vi.Public, vi.AgentID)
		}
		ids[vi.Name] = id
	}
	var parts [][]byte
	for _, p := range v.MessageID.Parts {
		b, _ := hex.DecodeString(p)
		parts = append(parts, b)
	}
	if got := MessageID(v.MessageID.AgentID, v.MessageID.ICCID, parts); got != v.MessageID.ID {
		t.Errorf("message id: got %s, want %s", got, v.MessageID.ID)
	}
	for _, m := range v.Messages {
		signer := ids[m.Signer]
		var signed []byte
		var verr error
		switch m.Kind {
		case "sms":
			x, err := DecodeSMS(m.JSON)
			if err != nil {
				t.Fatalf("sms vector: %v", err)
			}
			signed, verr = x.SignedBytes(), x.Verify(signer.Verify)
		case "cert":
			x, err := DecodeAgentCert(m.JSON)
			if err != nil {
				t.Fatalf("cert vector: %v", err)
			}
			signed, verr = x.SignedBytes(), x.VerifySignature()
		case "lease":
			x, err := DecodeLease(m.JSON)
			if err != nil {
				t.Fatalf("lease vector: %v", err)
			}
			signed, verr = x.SignedBytes(), x.VerifySignature([]VerifyKey{signer.Verify})
		case "receipt":
			x, err := DecodeReceipt(m.JSON)
			if err != nil {
				t.Fatalf("receipt vector: %v", err)
			}
			signed, verr = x.SignedBytes(), x.Verify([]VerifyKey{signer.Verify})
		case "status":
			x, err := DecodeStatus(m.JSON)
			if err != nil {
				t.Fatalf("status vector: %v", err)
			}
			signed, verr = x.SignedBytes(), x.Verify(signer.Verify)
		case "signin":
			ch, _ := hex.DecodeString(m.Challenge)
			signed = SignInBytes(m.Origin, ch)
			sig, _ := base64.StdEncoding.DecodeString(m.Sig)
			verr = VerifySignIn(signer.Verify, m.Origin, ch, sig)
		default:
			t.Fatalf("unknown vector kind %q", m.Kind)
		}
		if got := hex.EncodeToString(signed); got != m.SignedHex {
			t.Errorf("%s canonical bytes:\n got %s\nwant %s", m.Kind, got, m.SignedHex)
		}
		if verr != nil {
			t.Errorf("%s: %v", m.Kind, verr)
		}
		if got := b64(signer.SignBytes(signed)); got != m.Sig {
			t.Errorf("%s signature: got %s, want %s", m.Kind, got, m.Sig)
		}
	}
	for _, b := range v.Boxes {
		box, _ := base64.StdEncoding.DecodeString(b.Box)
		got, err := ids[b.Recipient].Open(box)
		if err != nil || b64(got) != b.Plaintext {
			t.Errorf("box to %s: got %q, %v; want %s", b.Recipient, got, err, b.Plaintext)
		}
	}
}

// TestLibsodiumVectors checks wire/testdata/libsodium.json, produced by PyNaCl (libsodium) via
// scripts/interop.py generate (or the file NESS_LIBSODIUM_VECTORS names): boxes libsodium sealed, signatures libsodium made (one over raw
// bytes, one over SMS canonical bytes that the Python side built itself).
func TestLibsodiumVectors(t *testing.T) {
	path := filepath.Join("testdata", "libsodium.json")
	if p := os.Getenv("NESS_LIBSODIUM_VECTORS"); p != "" {
		path = p // scripts/interop-check points this at vectors it has just generated
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate with /usr/bin/python3 scripts/interop.py generate wire/testdata/libsodium.json)", err)
	}
	var v struct {
		Seed  string `json:"seed"`
		Boxes []struct {
			Box       string `json:"box"`
			Plaintext string `json:"plaintext"`
		} `json:"boxes"`
		Signatures []struct {
			Message string `json:"message_hex"`
			Sig     string `json:"sig"`
		} `json:"signatures"`
		SMS []json.RawMessage `json:"sms"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	seed, _ := base64.StdEncoding.DecodeString(v.Seed)
	id, err := IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Boxes) == 0 || len(v.Signatures) == 0 || len(v.SMS) == 0 {
		t.Fatalf("%s: want boxes, signatures and sms, got %d/%d/%d", path, len(v.Boxes), len(v.Signatures), len(v.SMS))
	}
	for i, b := range v.Boxes {
		box, _ := base64.StdEncoding.DecodeString(b.Box)
		got, err := id.Open(box)
		if err != nil || b64(got) != b.Plaintext {
			t.Errorf("libsodium box %d: got %q, %v", i, got, err)
		}
	}
	for i, s := range v.Signatures {
		msg, _ := hex.DecodeString(s.Message)
		sig, _ := base64.StdEncoding.DecodeString(s.Sig)
		if !VerifyBytes(id.Verify, msg, sig) {
			t.Errorf("libsodium signature %d does not verify", i)
		}
	}
	for i, raw := range v.SMS {
		m, err := DecodeSMS(raw)
		if err != nil {
			t.Fatalf("libsodium-built sms %d: %v", i, err)
		}
		if err := m.Verify(id.Verify); err != nil {
			t.Errorf("libsodium-built sms %d: %v", i, err)
		}
		if _, err := m.Open(id); err != nil {
			t.Errorf("libsodium-built sms %d: open: %v", i, err)
		}
	}
}
