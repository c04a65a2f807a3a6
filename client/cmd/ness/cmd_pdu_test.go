package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/pdu"
)

// decodeLines parses one JSON object per stdout line.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

// TestPDUDecodeThirdPartyVectors runs every independent vector through the command and compares
// with the third party's assertions (see agent/pdu/testdata/vectors.json for sources).
func TestPDUDecodeThirdPartyVectors(t *testing.T) {
	b, err := os.ReadFile("../../../agent/pdu/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Vectors []struct {
			Name, PDU, Type, SMSC, Address, Timestamp, Encoding string
			SMSCDigits                                          string  `json:"smsc_digits"`
			AddressDigits                                       string  `json:"address_digits"`
			Text                                                *string `json:"text"`
			Concat                                              *struct{ Ref, Part, Total int }
		}
	}
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) < 20 {
		t.Fatalf("got %d vectors, want at least 20", len(vf.Vectors))
	}
	for _, v := range vf.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			code, out, stderr := runNess(t, "", "pdu", "decode", v.PDU)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			objs := decodeLines(t, out)
			if len(objs) != 1 {
				t.Fatalf("got %d JSON lines, want 1", len(objs))
			}
			o := objs[0]
			str := func(k string) string { s, _ := o[k].(string); return s }
			if v.Type != "" && str("type") != v.Type {
				t.Errorf("type: got %q, want %q", str("type"), v.Type)
			}
			if want := v.SMSC + v.SMSCDigits; want != "" {
				if got := str("smsc"); got != want && strings.TrimPrefix(got, "+") != v.SMSCDigits {
					t.Errorf("smsc: got %q, want %q", got, want)
				}
			}
			if want := v.Address + v.AddressDigits; want != "" {
				got := str("originator")
				if str("type") != "deliver" {
					got = str("recipient")
				}
				if got != want && strings.TrimPrefix(got, "+") != v.AddressDigits {
					t.Errorf("address: got %q, want %q", got, want)
				}
			}
			if v.Timestamp != "" && str("timestamp") != v.Timestamp {
				t.Errorf("timestamp: got %q, want %q", str("timestamp"), v.Timestamp)
			}
			if v.Text != nil && str("text") != *v.Text {
				t.Errorf("text: got %q, want %q", str("text"), *v.Text)
			}
			if v.Encoding != "" && str("encoding") != v.Encoding {
				t.Errorf("encoding: got %q, want %q", str("encoding"), v.Encoding)
			}
			if c := v.Concat; c != nil {
				u, _ := o["udh"].(map[string]any)
				if u == nil || u["ref"] != float64(c.Ref) || u["part"] != float64(c.Part) || u["total"] != float64(c.Total) {
					t.Errorf("udh: got %v, want ref %d part %d total %d", o["udh"], c.Ref, c.Part, c.Total)
				}
			} else if strings.Contains(v.Name, "simple") && o["udh"] != nil {
				t.Errorf("udh: got %v, want null", o["udh"])
			}
		})
	}
}

func TestPDUDecodeOutputShape(t *testing.T) {
	pdus, err := pdu.EncodeDeliver("+15551234567", "hi", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "+15550000000")
	if err != nil {
		t.Fatal(err)
	}
	full := hex.EncodeToString(pdus[0])
	bare := full[2+2*int(pdus[0][0]):]
	tests := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"UTC offset written +00:00", []string{full}, map[string]any{"timestamp": "2024-05-06T07:08:09+00:00", "smsc": "+15550000000", "originator": "+15551234567", "text": "hi", "encoding": "gsm7", "udh": nil, "type": "deliver"}},
		{"no-smsc gives null smsc", []string{"--no-smsc", bare}, map[string]any{"smsc": nil, "text": "hi"}},
		{"empty SMSC gives null smsc", []string{"00" + bare}, map[string]any{"smsc": nil}},
		{"8-bit binary gives data_hex only", []string{"--no-smsc", "040381" + "21F3" + "0004" + "42506070809000" + "03" + "00FF01"},
			map[string]any{"encoding": "8bit", "data_hex": "00ff01", "text": "<absent>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runNess(t, "", append([]string{"pdu", "decode"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			o := decodeLines(t, out)[0]
			for k, want := range tc.want {
				got, ok := o[k]
				if want == "<absent>" {
					if ok {
						t.Errorf("%s: got %v, want the key absent", k, got)
					}
					continue
				}
				if !ok || got != want {
					t.Errorf("%s: got %v (present %v), want %v", k, got, ok, want)
				}
			}
		})
	}
}

func TestPDUDecodeInvalid(t *testing.T) {
	good := "07919730071111F1000B919746121611F10000811170021222230DC8329BFD6681EE6F399B1C02"
	tests := []struct {
		name      string
		args      []string
		wantLines int // JSON lines for the good PDUs
		wantErr   []string
	}{
		{"bad hex", []string{"0791zz"}, 0, []string{"PDU 1: not hex"}},
		{"odd hex", []string{"079"}, 0, []string{"PDU 1: not hex"}},
		{"truncated", []string{good[:30]}, 0, []string{"PDU 1: malformed PDU"}},
		{"good then bad then good then bad", []string{good, good[:40], good, "00"}, 2, []string{"PDU 2: malformed", "PDU 4: malformed"}},
		{"bare TPDU without --no-smsc", []string{good[16:]}, 0, []string{"PDU 1:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runNess(t, "", append([]string{"pdu", "decode"}, tc.args...)...)
			if code == 0 {
				t.Fatalf("exit 0, want non-zero (stdout %q)", out)
			}
			if got := len(decodeLines(t, out)); got != tc.wantLines {
				t.Errorf("got %d JSON lines, want %d", got, tc.wantLines)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != len(tc.wantErr) {
				t.Fatalf("stderr %q: got %d lines, want %d", stderr, len(lines), len(tc.wantErr))
			}
			for i, w := range tc.wantErr {
				if !strings.HasPrefix(lines[i], "ness pdu decode: ") || !strings.Contains(lines[i], w) {
					t.Errorf("stderr line %d: got %q, want it to mention %q", i+1, lines[i], w)
				}
			}
		})
	}
}

func TestPDUDecodeStdin(t *testing.T) {
	in := "07919730071111F1000B919746121611F10000811170021222230DC8329BFD6681EE6F399B1C02\n\n" +
		"07911326060032F0000DD0D432DBFC96D30100001121313121114012D7327BFC6E9741F437885A669BDF723A\n"
	code, out, stderr := runNess(t, in, "pdu", "decode")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	objs := decodeLines(t, out)
	if len(objs) != 2 || objs[0]["text"] != "Hello, world!" || objs[1]["originator"] != "Telfort" {
		t.Fatalf("got %v, want Hello, world! then a message from Telfort", objs)
	}
	if code, _, _ := runNess(t, "", "pdu", "decode"); code != 2 {
		t.Errorf("no input: got exit %d, want 2", code)
	}
}
