package pdu

import (
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// vector is one third-party test vector from testdata/vectors.json. Pointer and empty fields
// are values the third party does not assert, so they are not checked.
type vector struct {
	Name          string  `json:"name"`
	Source        string  `json:"source"`
	Where         string  `json:"where"`
	PDU           string  `json:"pdu"`
	NoSMSC        bool    `json:"no_smsc"`
	Type          string  `json:"type"`
	SMSC          string  `json:"smsc"`
	SMSCDigits    string  `json:"smsc_digits"`
	Address       string  `json:"address"`
	AddressDigits string  `json:"address_digits"`
	Timestamp     string  `json:"timestamp"`
	Text          *string `json:"text"`
	Encoding      string  `json:"encoding"`
	Reference     *int    `json:"reference"`
	PID           *int    `json:"pid"`
	DCS           *int    `json:"dcs"`
	Group         string  `json:"group"`
	Concat        *struct {
		Ref   int  `json:"ref"`
		Part  int  `json:"part"`
		Total int  `json:"total"`
		Ref16 bool `json:"ref16"`
	} `json:"concat"`
}

type vectorFile struct {
	Sources map[string]struct {
		Project, File, Commit, URL string
	} `json:"sources"`
	Vectors []vector `json:"vectors"`
	Groups  map[string]struct {
		Text string `json:"text"`
	} `json:"groups"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(vf.Vectors) == 0 {
		t.Fatal("testdata/vectors.json has no vectors")
	}
	return vf
}

func (v vector) bytes(t testing.TB) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.PDU)
	if err != nil {
		t.Fatalf("%s: bad hex: %v", v.Name, err)
	}
	return b
}

// address returns what the vector asserts for the address, and whether to drop our '+'.
func addrAssert(full, digits string) (string, bool) {
	if digits != "" {
		return digits, true
	}
	return full, false
}

func TestThirdPartyVectors(t *testing.T) {
	vf := loadVectors(t)
	for _, v := range vf.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			src, ok := vf.Sources[v.Source]
			if !ok || src.Commit == "" || src.URL == "" {
				t.Fatalf("vector names source %q without project, commit and URL", v.Source)
			}
			m, err := Decode(v.bytes(t), true)
			if err != nil {
				t.Fatalf("Decode(%s): %v", v.PDU, err)
			}
			if v.Type != "" && string(m.Type) != v.Type {
				t.Errorf("type: got %q, want %q", m.Type, v.Type)
			}
			if want, strip := addrAssert(v.SMSC, v.SMSCDigits); want != "" {
				got := "<nil>"
				if m.SMSC != nil {
					got = m.SMSC.Number
				}
				if strip {
					got = strings.TrimPrefix(got, "+")
				}
				if got != want {
					t.Errorf("smsc: got %q, want %q", got, want)
				}
			}
			if v.NoSMSC && m.SMSC != nil {
				t.Errorf("smsc: got %q, want none", m.SMSC.Number)
			}
			if want, strip := addrAssert(v.Address, v.AddressDigits); want != "" {
				got := m.Originator.Number
				if m.Type != TypeDeliver {
					got = m.Recipient.Number
				}
				if strip {
					got = strings.TrimPrefix(got, "+")
				}
				if got != want {
					t.Errorf("address: got %q, want %q", got, want)
				}
			}
			if v.Timestamp != "" {
				want, err := time.Parse(time.RFC3339, v.Timestamp)
				if err != nil {
					t.Fatal(err)
				}
				if got := m.Time.Format(time.RFC3339); got != v.Timestamp || !m.Time.Equal(want) {
					t.Errorf("timestamp: got %s, want %s", got, v.Timestamp)
				}
			}
			if v.Text != nil && m.Text != *v.Text {
				t.Errorf("text: got %q, want %q", m.Text, *v.Text)
			}
			if v.Encoding != "" && string(m.Encoding) != v.Encoding {
				t.Errorf("encoding: got %q, want %q", m.Encoding, v.Encoding)
			}
			if v.Reference != nil && m.Reference != *v.Reference {
				t.Errorf("reference: got %d, want %d", m.Reference, *v.Reference)
			}
			if v.PID != nil && int(m.PID) != *v.PID {
				t.Errorf("pid: got %d, want %d", m.PID, *v.PID)
			}
			if v.DCS != nil && int(m.DCS) != *v.DCS {
				t.Errorf("dcs: got %#x, want %#x", m.DCS, *v.DCS)
			}
			if c := v.Concat; c != nil {
				if m.Concat == nil {
					t.Fatalf("concat: got none, want %+v", *c)
				}
				got := *m.Concat
				if got.Ref != c.Ref || got.Part != c.Part || got.Total != c.Total || (c.Ref16 && !got.Ref16) {
					t.Errorf("concat: got %+v, want %+v", got, *c)
				}
			}
		})
	}
}

// TestThirdPartyGroups reassembles each concatenated third-party message in several arrival
// orders.
func TestThirdPartyGroups(t *testing.T) {
	vf := loadVectors(t)
	groups := map[string][]vector{}
	for _, v := range vf.Vectors {
		if v.Group != "" {
			groups[v.Group] = append(groups[v.Group], v)
		}
	}
	if len(groups) < 4 {
		t.Fatalf("got %d groups in vectors.json, want at least 4", len(groups))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, vs := range groups {
		want := vf.Groups[name].Text
		if want == "" {
			for _, v := range vs { // listed in part order in vectors.json
				want += *v.Text
			}
		}
		for round := 0; round < 4; round++ {
			order := rng.Perm(len(vs))
			r := NewReassembler(time.Minute, func() time.Time { return time.Unix(0, 0) })
			var got *Assembled
			for i, idx := range order {
				v := vs[idx]
				m, err := Decode(v.bytes(t), true)
				if err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
				a, err := r.Add("sim", Part{Message: m, Raw: v.bytes(t), Key: v.Name})
				if err != nil {
					t.Fatalf("%s: Add(%s): %v", name, v.Name, err)
				}
				if (a != nil) != (i == len(vs)-1) {
					t.Fatalf("%s order %v: after %d parts got assembled=%v", name, order, i+1, a != nil)
				}
				got = a
			}
			if got.Text != want || got.Incomplete {
				t.Errorf("%s order %v: got %q (incomplete %v), want %q", name, order, got.Text, got.Incomplete, want)
			}
			for i, p := range got.Parts {
				if p.Key != vs[i].Name {
					t.Errorf("%s: part %d key: got %q, want %q", name, i+1, p.Key, vs[i].Name)
				}
			}
		}
	}
}
