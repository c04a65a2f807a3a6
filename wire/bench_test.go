package wire

import (
	"encoding/json"
	"testing"
)

// BenchmarkSealSign: what the agent does per SMS (~160-character text): marshal the plaintext,
// seal it, derive the id, sign, and encode the JSON transport form.
func BenchmarkSealSign(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		m, err := NewSMS(SMSInput{AgentID: f.agent.AgentID(), Slot: 3, ICCID: f.iccid, Parts: f.parts,
			Received: f.now, LeaseSeq: 7, Recipient: f.renter.Public, Plaintext: f.pt})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Sign(f.agent); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOpen: what the hub and then the renter do: strict decode, verify the agent
// signature, open the box and decode the plaintext.
func BenchmarkVerifyOpen(b *testing.B) {
	f := newFixture(b)
	data, _ := json.Marshal(f.sms(b))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := DecodeSMS(data)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Verify(f.agent.Verify); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Open(f.renter); err != nil {
			b.Fatal(err)
		}
	}
}
