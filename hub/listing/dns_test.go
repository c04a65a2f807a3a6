package listing_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/listing"
)

func TestDNSValue(t *testing.T) {
	cases := []struct {
		name string
		d    listing.DNS
		want string // "" = error
	}{
		{"A and TXT", listing.DNS{Domain: "gateway.private.ness", A: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}, TXT: []string{"ness-hub"}},
			"A=192.0.2.1,192.0.2.2|TXT=ness-hub"},
		{"AAAA and CNAME", listing.DNS{Domain: "hub.ness.coin", AAAA: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, CNAME: "gateway.ness.cx"},
			"AAAA=2001:db8::1|CNAME=gateway.ness.cx"},
		{"empty", listing.DNS{Domain: "gateway.private.ness"}, ""},
		{"no dot", listing.DNS{Domain: "localhost", TXT: []string{"x"}}, ""},
		{"upper case", listing.DNS{Domain: "Gateway.ness", TXT: []string{"x"}}, ""},
		{"IPv6 as A", listing.DNS{Domain: "a.ness", A: []netip.Addr{netip.MustParseAddr("::1")}}, ""},
		{"separator in TXT", listing.DNS{Domain: "a.ness", TXT: []string{"a|A=6.6.6.6"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.d.Value()
			if tc.want == "" {
				if !errors.Is(err, listing.ErrBadDNS) {
					t.Fatalf("Value(%+v): got %q, %v; want ErrBadDNS", tc.d, v, err)
				}
				return
			}
			if err != nil || string(v) != tc.want {
				t.Fatalf("Value: got %q, %v; want %q", v, err, tc.want)
			}
			back, err := listing.ParseDNS(tc.d.Name(), v)
			if err != nil || !reflect.DeepEqual(back, tc.d) {
				t.Fatalf("ParseDNS(Value): got %+v, %v; want %+v", back, err, tc.d)
			}
		})
	}
	for _, bad := range []string{"A=1.2.3.4|A=5.6.7.8", "MX=10 mail.ness", "A=", "A=::1", "AAAA=1.2.3.4", "TXT", "CNAME=a.ness,b.ness"} {
		if _, err := listing.ParseDNS("dns:gateway.ness", []byte(bad)); !errors.Is(err, listing.ErrBadDNS) {
			t.Errorf("ParseDNS(%q): got %v, want ErrBadDNS", bad, err)
		}
	}
}

// TestPublishDNS: registered once, unchanged records write nothing, a change is an update
// (rate-limited), and a value over the node's limit is the node's ErrValueTooLong.
func TestPublishDNS(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	node, err := emulator.New(emulator.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := node.Start()
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: url, Now: clk.Now})
	p := &listing.Publisher{Chain: c, Now: clk.Now}
	d := listing.DNS{Domain: "gateway.private.ness", A: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	if txid, err := p.PublishDNS(ctx, d); err != nil || txid == "" {
		t.Fatalf("register: %q, %v", txid, err)
	}
	node.Mine(1)
	if txid, err := p.PublishDNS(ctx, d); err != nil || txid != "" {
		t.Fatalf("unchanged: %q, %v; want no write", txid, err)
	}
	d.TXT = []string{"v2"}
	var rl *listing.RateLimitedError
	if _, err := p.PublishDNS(ctx, d); !errors.As(err, &rl) {
		t.Fatalf("update within the interval: got %v, want RateLimitedError", err)
	}
	clk.Add(2 * time.Hour)
	if txid, err := p.PublishDNS(ctx, d); err != nil || txid == "" {
		t.Fatalf("update: %q, %v", txid, err)
	}
	node.Mine(1)
	rec, err := c.NameShow(ctx, "dns:gateway.private.ness")
	if err != nil || string(rec.Value) != "A=192.0.2.1|TXT=v2" {
		t.Fatalf("on chain: %q, %v", rec.Value, err)
	}
	long := listing.DNS{Domain: "long.private.ness", TXT: []string{strings.Repeat("x", emercoin.MaxValueLength)}}
	if _, err := p.PublishDNS(ctx, long); !errors.Is(err, emercoin.ErrValueTooLong) {
		t.Fatalf("value over 20480 bytes: got %v, want ErrValueTooLong", err)
	}
}

func FuzzParseDNS(f *testing.F) {
	f.Add("dns:gateway.private.ness", []byte("A=192.0.2.1,192.0.2.2|TXT=ness-hub"))
	f.Add("dns:a.coin", []byte("AAAA=2001:db8::1|CNAME=b.coin"))
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		d, err := listing.ParseDNS(name, value)
		if err != nil {
			return
		}
		v, err := d.Value()
		if err != nil {
			t.Fatalf("parsed %q=%q but cannot write it back: %v", name, value, err)
		}
		back, err := listing.ParseDNS(d.Name(), v)
		if err != nil || !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip of %q: %+v, %v", value, back, err)
		}
	})
}
