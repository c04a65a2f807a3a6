package modemsim

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want []Command
	}{
		{"AT", nil},
		{"at", nil},
		{"  AT", nil},
		{"ATE0", []Command{{Name: "E", Value: "0"}}},
		{"ATE0V1", []Command{{Name: "E", Value: "0"}, {Name: "V", Value: "1"}}},
		{"ATZ", []Command{{Name: "Z"}}},
		{"AT&F", []Command{{Name: "&F"}}},
		{"ATS0=0", []Command{{Name: "S0", Kind: Set, Value: "0"}}},
		{"ATS7?", []Command{{Name: "S7", Kind: Read}}},
		{"AT+CGMI", []Command{{Name: "+CGMI"}}},
		{"at+cmgf?", []Command{{Name: "+CMGF", Kind: Read}}},
		{"AT+CNMI=?", []Command{{Name: "+CNMI", Kind: Test}}},
		{"AT+CMGL=4", []Command{{Name: "+CMGL", Kind: Set, Args: []string{"4"}, Quoted: []bool{false}}}},
		{`AT+CMGL="ALL"`, []Command{{Name: "+CMGL", Kind: Set, Args: []string{"ALL"}, Quoted: []bool{true}}}},
		{`AT+CPMS="SM","ME",`, []Command{{Name: "+CPMS", Kind: Set, Args: []string{"SM", "ME", ""}, Quoted: []bool{true, true, false}}}},
		{"AT+CNMI=2,1,,0", []Command{{Name: "+CNMI", Kind: Set, Args: []string{"2", "1", "", "0"}, Quoted: []bool{false, false, false, false}}}},
		{`AT+CMGF=0;+CSCA="a;b",145`, []Command{
			{Name: "+CMGF", Kind: Set, Args: []string{"0"}, Quoted: []bool{false}},
			{Name: "+CSCA", Kind: Set, Args: []string{"a;b", "145"}, Quoted: []bool{true, false}},
		}},
		{"ATE1;+CMEE=2", []Command{{Name: "E", Value: "1"}, {Name: "+CMEE", Kind: Set, Args: []string{"2"}, Quoted: []bool{false}}}},
		{"AT$TSSPCSW=?", []Command{{Name: "$TSSPCSW", Kind: Test}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseLine(tt.line)
			if err != nil {
				t.Fatalf("ParseLine(%q): %v", tt.line, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLine(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		line     string
		noPrefix bool
	}{
		{"", true},
		{"A", true},
		{"hello", true},
		{"AT+", false},
		{`AT+CSCA="abc`, false},
		{`AT+CSCA=abc"`, false},
		{`AT+CSCA="a"b`, false},
		{"AT&", false},
		{"ATS", false},
		{"AT!", false},
		{"AT+CMGF?x", false},
		{"AT" + strings.Repeat("E", MaxLineLength), false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := ParseLine(tt.line)
			if err == nil {
				t.Fatalf("ParseLine(%q): got no error, want one", tt.line)
			}
			if got := errors.Is(err, ErrNoPrefix); got != tt.noPrefix {
				t.Errorf("ParseLine(%q): errors.Is(ErrNoPrefix) = %v, want %v (err %v)", tt.line, got, tt.noPrefix, err)
			}
		})
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"AT", "ATE0V1", `AT+CMGL="ALL"`, "AT+CNMI=2,1,0,0,0", `AT+CPMS="SM","SM","SM"`,
		"AT+CMGF=0;+CSCA=\"+1555;\",145", "ATS0=0", "AT&F", "AT+CFUN=1,1", "AT+CRSM=176,12258,0,0,10", "at+cmgr=?", "AT\"", "AT+=", "ATS99999999999999999999?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmds, err := ParseLine(line)
		if err != nil {
			return
		}
		for _, c := range cmds {
			if c.Name == "" {
				t.Fatalf("ParseLine(%q): command with empty name", line)
			}
			if len(c.Args) != len(c.Quoted) {
				t.Fatalf("ParseLine(%q): %d args, %d quoted flags", line, len(c.Args), len(c.Quoted))
			}
			if c.Kind != Set && len(c.Args) > 0 {
				t.Fatalf("ParseLine(%q): %v command with args", line, c.Kind)
			}
		}
	})
}
