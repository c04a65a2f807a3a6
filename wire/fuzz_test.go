package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// Every decoder of outside bytes has a fuzz target. Each checks it never panics and that what
// it accepts re-encodes to something it accepts again with the same signed bytes.

func FuzzDecodeSMS(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.sms(f))
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"v":2}`))
	f.Add(bytes.Replace(good, []byte(`"v":1`), []byte(`"V":1`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeSMS(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		m2, err := DecodeSMS(again)
		if err != nil || !bytes.Equal(m2.SignedBytes(), m.SignedBytes()) {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		if p, err := ParseSignedSMS(m.SignedBytes()); err != nil || !bytes.Equal(p.SignedBytes(), m.SignedBytes()) {
			t.Fatalf("signed bytes of an accepted SMS do not parse back: %v", err)
		}
	})
}

func FuzzParseSignedSMS(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.sms(f).SignedBytes())
	f.Add([]byte(DomainSMS))
	f.Add([]byte(DomainSMS + "\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSignedSMS(data)
		if err != nil {
			return
		}
		if !bytes.Equal(m.SignedBytes(), data) {
			t.Fatalf("canonical form is not unique:\n in %x\nout %x", data, m.SignedBytes())
		}
	})
}

func FuzzDecodePlaintext(f *testing.F) {
	fx := newFixture(f)
	good, _ := fx.pt.Marshal()
	f.Add(good)
	f.Add([]byte(`{"v":1,"flags":["incomplete","incomplete"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePlaintext(data)
		if err != nil {
			return
		}
		again, err := p.Marshal()
		if err != nil {
			t.Fatalf("re-marshal of accepted plaintext: %v", err)
		}
		p2, err := DecodePlaintext(again)
		if err != nil || p2.Text != p.Text || p2.Flags != p.Flags || !p2.SMSCTime.Equal(p.SMSCTime) {
			t.Fatalf("re-decode: %+v %v", p2, err)
		}
	})
}

func FuzzDecodeAgentCert(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.cert(f))
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeAgentCert(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(c)
		c2, err := DecodeAgentCert(again)
		if err != nil || !bytes.Equal(c2.SignedBytes(), c.SignedBytes()) {
			t.Fatalf("re-decode: %v", err)
		}
		_ = c.Verify(time.Unix(1e9, 0))
	})
}

func FuzzDecodeLease(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.lease(f))
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLease(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(l)
		l2, err := DecodeLease(again)
		if err != nil || !bytes.Equal(l2.SignedBytes(), l.SignedBytes()) {
			t.Fatalf("re-decode: %v", err)
		}
		_ = l.Verify([]VerifyKey{l.Hub}, time.Unix(1e9, 0))
	})
}

func FuzzDecodeReceipt(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.receipt(f, fx.sms(f).ID))
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeReceipt(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(r)
		r2, err := DecodeReceipt(again)
		if err != nil || !bytes.Equal(r2.SignedBytes(), r.SignedBytes()) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	fx := newFixture(f)
	good, _ := json.Marshal(fx.status(f))
	f.Add(good)
	f.Add([]byte(`{"v":1,"slots":[{"slot":1},{"slot":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeStatus(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(s)
		s2, err := DecodeStatus(again)
		if err != nil || !bytes.Equal(s2.SignedBytes(), s.SignedBytes()) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	a := seedIdentity(f, 1).AgentID()
	for _, s := range []string{SMSTopic(a), StatusTopic(a), SlotStatusTopic(a, 7), LeaseTopic(a, "894450123456"), ReceiptTopic(a), "ness/v1/agent//sms", "ness/v1/agent/" + a + "/status/007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTopic(s)
		if err != nil {
			return
		}
		if tp.String() != s {
			t.Fatalf("ParseTopic(%q) accepted a non-canonical topic; String() = %q", s, tp.String())
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=")
	f.Add("j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8")
	f.Add("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg")
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseKey("k", s); err == nil {
			if k2, err := ParseKey("k", VerifyKey(k).String()); err != nil || k2 != k {
				t.Fatalf("re-parse of %q: %v", s, err)
			}
		}
		_, _ = ParsePrivateKey("p", s)
	})
}

func FuzzParseKeyFile(f *testing.F) {
	id := seedIdentity(f, 2)
	good, _ := MarshalKeyFile(id, KindAgent, "x", time.Unix(1e9, 0))
	f.Add(good)
	pub, _ := MarshalPublicKeyFile(id.Verify, id.Public, "", "")
	f.Add(pub)
	f.Add([]byte(`{"filedata":{"vendor":"Privateness","type":"key","for":"user"},"current":"a","users":{"a":{"private":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}}`))
	f.Add([]byte(`{"filedata":{"vendor":"Privateness","type":"key","for":"node"},"keys":{"private":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		if k.Identity != nil && (k.Identity.Verify != k.Verify || k.Identity.Public != k.Public) {
			t.Fatal("accepted key file whose public keys do not match its private key")
		}
	})
}

func FuzzOpen(f *testing.F) {
	id := seedIdentity(f, 3)
	box, _ := Seal(id.Public, []byte("seed"))
	f.Add(box)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if out, err := id.Open(data); err == nil && len(out) != len(data)-SealOverhead {
			t.Fatalf("opened %d bytes from a %d-byte box", len(out), len(data))
		}
	})
}
