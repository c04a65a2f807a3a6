package emercoin_test

import (
	"errors"
	"testing"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func TestDecodeAddress(t *testing.T) {
	cases := []struct {
		net  emercoin.Network
		in   string
		kind emercoin.AddressKind
	}{
		{emercoin.MainNet, "ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm", emercoin.P2PKH},
		{emercoin.MainNet, "em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yw", emercoin.P2WPKH},
		{emercoin.MainNet, "EM1QWF29XUW5TRPAY453XPXPY59VQMHGGDLEQLK3YW", emercoin.P2WPKH},
		{emercoin.MainNet, "em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yx", 0}, // checksum
		{emercoin.MainNet, "em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yW", 0}, // mixed case
		{emercoin.TestNet, "em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yw", 0}, // other network
		{emercoin.TestNet, "ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm", 0},         // version byte
		{emercoin.MainNet, "ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csn", 0},         // checksum
		{emercoin.MainNet, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 0},         // Bitcoin
		{emercoin.MainNet, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 0}, // Bitcoin bech32
	}
	for _, tc := range cases {
		a, err := tc.net.Decode(tc.in)
		if tc.kind == 0 {
			if err == nil || !errors.Is(err, emercoin.ErrBadAddress) {
				t.Errorf("%s Decode(%q): got %+v, %v; want ErrBadAddress", tc.net.Name, tc.in, a, err)
			}
			continue
		}
		if err != nil || a.Kind != tc.kind {
			t.Errorf("%s Decode(%q): got %v, %v; want %v", tc.net.Name, tc.in, a.Kind, err, tc.kind)
		}
	}
}
