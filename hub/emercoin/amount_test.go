package emercoin_test

import (
	"encoding/json"
	"testing"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want emercoin.Amount
		ok   bool
	}{
		{"1", 1_000_000, true},
		{"1.000000", 1_000_000, true},
		{"0.000001", 1, true},
		{"0.0000001", 0, false},
		{"0.00000010", 0, false},
		{"12.5", 12_500_000, true},
		{"1e-6", 1, true},
		{"1.5E2", 150_000_000, true},
		{"-0.1", -100_000, true},
		{"10000000000", 10_000_000_000 * emercoin.Coin, true},
		{"10000000000.000001", 0, false},
		{"", 0, false},
		{".", 0, false},
		{"1..2", 0, false},
		{"abc", 0, false},
		{"1e999", 0, false},
	}
	for _, tc := range cases {
		got, err := emercoin.ParseAmount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAmount(%q): got %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	cases := []struct {
		a    emercoin.Amount
		json string
		fm   string
	}{
		{1_000_000, "1.000000", "1.00"},
		{100_000, "0.100000", "0.10"},
		{123_400, "0.123400", "0.1234"},
		{1, "0.000001", "0.000001"},
		{-2_500_000, "-2.500000", "-2.50"},
	}
	for _, tc := range cases {
		b, _ := json.Marshal(tc.a)
		if string(b) != tc.json {
			t.Errorf("Marshal(%d): got %s, want %s", tc.a, b, tc.json)
		}
		var back emercoin.Amount
		if err := json.Unmarshal(b, &back); err != nil || back != tc.a {
			t.Errorf("Unmarshal(%s): got %d %v, want %d", b, back, err, tc.a)
		}
		if got := emercoin.FormatMoney(tc.a); got != tc.fm {
			t.Errorf("FormatMoney(%d): got %q, want %q", tc.a, got, tc.fm)
		}
	}
	var s emercoin.Amount
	if err := json.Unmarshal([]byte(`"0.5"`), &s); err != nil || s != 500_000 {
		t.Errorf(`Unmarshal("0.5"): got %d %v, want 500000`, s, err)
	}
}
