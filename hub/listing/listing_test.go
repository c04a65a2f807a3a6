package listing_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/listing"
)

var offChain = []byte(`{"number":"+15551234567","price_per_sms":"0.001","sig":"…"}`)

func sampleBlind() listing.Blind {
	return listing.Blind{ID: "a1b2c3d4e5f6", WormRef: "worm:user:ness:alice", Commitment: listing.Commit(offChain),
		Capabilities: listing.NonVoIP | listing.Instant, Rev: 1}
}

func TestBlindValue(t *testing.T) {
	b := sampleBlind()
	v, err := b.Value()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"worm_ref":"worm:user:ness:alice","commitment":"` + b.Commitment + `","capabilities":3,"rev":1}`
	if string(v) != want {
		t.Fatalf("Value: got %s, want %s", v, want)
	}
	back, err := listing.ParseBlind(b.Name(), v)
	if err != nil || back != b {
		t.Fatalf("ParseBlind(Value): got %+v %v, want %+v", back, err, b)
	}
	if err := back.CheckOffChain(offChain); err != nil {
		t.Fatalf("CheckOffChain of the committed bytes: %v", err)
	}
	if err := back.CheckOffChain(append([]byte(" "), offChain...)); !errors.Is(err, listing.ErrCommitment) {
		t.Fatalf("CheckOffChain of other bytes: got %v, want ErrCommitment", err)
	}
}

func TestParseBlindRejects(t *testing.T) {
	good := sampleBlind()
	c := good.Commitment
	cases := []struct{ desc, name, value string }{
		{"extra key (an E.164 leaking on chain)", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":3,"rev":1,"number":"+1555"}`},
		{"short commitment", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"abcd","capabilities":3,"rev":1}`},
		{"upper-case commitment", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"` + strings.ToUpper(c) + `","capabilities":3,"rev":1}`},
		{"unknown capability", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":16,"rev":1}`},
		{"rev 0", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":3,"rev":0}`},
		{"not a WORM ref", good.Name(), `{"worm_ref":"alice","commitment":"` + c + `","capabilities":3,"rev":1}`},
		{"short opaque id", "ness:sms:listing:abc", `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":3,"rev":1}`},
		{"wrong prefix", "sms:listing:a1b2c3d4e5f6", `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":3,"rev":1}`},
		{"trailing data", good.Name(), `{"worm_ref":"worm:user:ness:alice","commitment":"` + c + `","capabilities":3,"rev":1}{}`},
	}
	for _, tc := range cases {
		if b, err := listing.ParseBlind(tc.name, []byte(tc.value)); !errors.Is(err, listing.ErrInvalid) {
			t.Errorf("%s: got %+v, %v; want ErrInvalid", tc.desc, b, err)
		}
	}
}

func TestPublicHasNoRenter(t *testing.T) {
	v := []byte(`{"owner":"ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm","pubkey":"k","price_per_sms":"0.001","status":"rented",
		"rented_to":"renter-key-XYZ","rental_expires":1700000000,"reputation":985,"features":["non-voip"]}`)
	p, err := listing.ParsePublic("sms:+15551234567", v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Value()
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"rented_to", "renter-key-XYZ", "rental_expires"} {
		if strings.Contains(string(out), leak) {
			t.Fatalf("re-encoded public record %s contains %q", out, leak)
		}
	}
	if p.Reputation != 985 || p.Number != "+15551234567" {
		t.Fatalf("ParsePublic: got %+v", p)
	}
	for _, bad := range []string{"sms:15551234567", "sms:+0123456", "sms:+1"} {
		if _, err := listing.ParsePublic(bad, v); !errors.Is(err, listing.ErrInvalid) {
			t.Errorf("ParsePublic(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

// The user WORM of reference/emercoin.md §8, byte for byte (tabs, double space, trailing space).
const wormUser = "<worm>\n\t<user type=\"ness\"  public=\"j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=\" verify=\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\" nonce=\"AAECAwQFBgcICQoLDA0ODw==\">\n\t\t<signatures> \n\t\t</signatures>\n\t\t<!-- Here tags may be different for each type of user -->\n\t</user>\n</worm>"

func TestParseWORMUser(t *testing.T) {
	u, err := listing.ParseWORMUser("worm:user:ness:alice", []byte(wormUser))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString("j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=")
	ver, _ := base64.StdEncoding.DecodeString("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
	if u.Name != "alice" || u.Type != "ness" || string(u.Public[:]) != string(pub) || string(u.Verify[:]) != string(ver) || len(u.Nonce) != 16 {
		t.Fatalf("ParseWORMUser: got %+v", u)
	}
	quoted := strings.Replace(wormUser, `type="ness"`, `type=”ness”`, 1)
	if u2, err := listing.ParseWORMUser("worm:user:ness:alice", []byte(quoted)); err != nil || u2.Type != "ness" {
		t.Fatalf("typographic quotes: got %+v %v, want them read as \"", u2, err)
	}
	tagged := strings.Replace(wormUser, `nonce=`, `tags="Hello World,test" nonce=`, 1)
	if u3, _ := listing.ParseWORMUser("worm:user:ness:alice", []byte(tagged)); !reflect.DeepEqual(u3.Tags, []string{"Hello World", "test"}) {
		t.Fatalf("tags: got %q", u3.Tags)
	}
	bad := map[string]string{
		"NessNode readme (self-closing <user/> then </user>)": `<worm><user type="ness" public="j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=" verify="A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=" tags="Hello World,test"/></user></worm>`,
		"2022 format (keys in <keys>)":                        `<worm><user tags="x"><keys><key public="j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=" verify="A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=" current="current"/></keys></user></worm>`,
		"short key":                                           strings.Replace(wormUser, "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=", "AAAA", 1),
		"no user":                                             `<worm><node type="ness"/></worm>`,
	}
	for desc, v := range bad {
		if _, err := listing.ParseWORMUser("worm:user:ness:alice", []byte(v)); !errors.Is(err, listing.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", desc, err)
		}
	}
}

func TestParseWORMNode(t *testing.T) {
	v := "<worm>\n\t<node type=\"ness\" url=\"http://my-node.net\" network=\"inet\" nonce=\"AAECAwQFBgcICQoLDA0ODw==\"    verify=\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\" public=\"j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=\" master-user=\"alice\" tariff=\"10\" services=\"prng,files\">\n\t\t<!-- Here tags may be different for each type of node or each node -->\n\t</node>\n</worm>"
	n, err := listing.ParseWORMNode([]byte(v))
	if err != nil || n.URL != "http://my-node.net" || n.Tariff != 10 || !reflect.DeepEqual(n.Services, []string{"prng", "files"}) || n.MasterUser != "alice" {
		t.Fatalf("ParseWORMNode: got %+v %v", n, err)
	}
	if _, err := listing.ParseWORMNode([]byte(strings.Replace(v, ` tariff="10"`, "", 1))); !errors.Is(err, listing.ErrInvalid) {
		t.Fatalf("node without tariff: got %v, want ErrInvalid", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestListingLifeOnEmulator: new, update with rev+1, stale rev and rate limit refused, expiry,
// delete; and a second hub with its own client rebuilds the same catalogue from the chain.
func TestListingLifeOnEmulator(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	node, err := emulator.New(emulator.Config{Path: filepath.Join(t.TempDir(), "chain.json"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	hubA, _ := emercoin.New(emercoin.Config{URL: url, Now: clk.Now})
	pub := &listing.Publisher{Chain: hubA, Now: clk.Now, MinInterval: time.Hour, Days: 2}

	b := sampleBlind()
	if _, err := pub.PublishBlind(ctx, b); err != nil {
		t.Fatal(err)
	}
	other := b
	other.ID, other.Capabilities = "zzzz-other-listing", listing.VoiceFwd
	if _, err := pub.PublishBlind(ctx, other); err != nil {
		t.Fatal(err)
	}
	p := listing.Public{Number: "+15551234567", Owner: "ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm", PubKey: "k", PricePerSMS: "0.001", Status: "available"}
	if _, err := pub.PublishPublic(ctx, p); err != nil {
		t.Fatal(err)
	}
	// Junk under the prefix is reported, not fatal.
	if _, err := hubA.NameNew(ctx, "ness:sms:listing:junk-record", []byte("not json"), 1, ""); err != nil {
		t.Fatal(err)
	}
	node.Mine(1)

	b.Rev = 3
	if _, err := pub.PublishBlind(ctx, b); !errors.Is(err, listing.ErrStaleRev) {
		t.Fatalf("rev 3 over rev 1: got %v, want ErrStaleRev", err)
	}
	b.Rev = 2
	b.Capabilities |= listing.RegionUS
	var rl *listing.RateLimitedError
	if _, err := pub.PublishBlind(ctx, b); !errors.As(err, &rl) || rl.RetryAfter != time.Hour {
		t.Fatalf("update right after registering: got %v, want rate limited for 1h", err)
	}
	clk.Add(time.Hour)
	if _, err := pub.PublishBlind(ctx, b); err != nil {
		t.Fatalf("rev 2 an hour later: %v", err)
	}
	node.Mine(1)

	catA, err := listing.Scan(ctx, hubA)
	if err != nil {
		t.Fatal(err)
	}
	if len(catA.Blind) != 2 || catA.Blind[0].ID != b.ID || catA.Blind[0].Rev != 2 || catA.Blind[0].Capabilities != 7 ||
		len(catA.Public) != 1 || len(catA.Skipped) != 1 || catA.Skipped[0].Name != "ness:sms:listing:junk-record" {
		t.Fatalf("catalogue: got %+v", catA)
	}
	if err := catA.Blind[0].CheckOffChain(offChain); err != nil {
		t.Fatalf("commitment on read: %v", err)
	}
	// A second, fresh hub reaches the same catalogue.
	hubB, _ := emercoin.New(emercoin.Config{URL: url})
	catB, err := listing.Scan(ctx, hubB)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(catA, catB) {
		t.Fatalf("second hub's catalogue differs:\n A %+v\n B %+v", catA, catB)
	}

	// Delete one; let the rest expire (2 days = 350 blocks from registration).
	if _, err := pub.Withdraw(ctx, other.Name()); err != nil {
		t.Fatal(err)
	}
	node.Mine(1)
	cat, _ := listing.Scan(ctx, hubB)
	if len(cat.Blind) != 1 || cat.Blind[0].ID != b.ID {
		t.Fatalf("after withdraw: got %+v, want only %s", cat.Blind, b.ID)
	}
	node.Mine(2 * emercoin.BlocksPerDay)
	cat, _ = listing.Scan(ctx, hubB)
	if len(cat.Blind) != 0 || len(cat.Public) != 0 {
		t.Fatalf("after expiry: got %+v, want an empty catalogue", cat)
	}
	// An expired listing can be registered again from rev 1.
	b.Rev = 1
	if _, err := pub.PublishBlind(ctx, b); err != nil {
		t.Fatalf("re-register after expiry: %v", err)
	}
}

func FuzzParseBlind(f *testing.F) {
	v, _ := sampleBlind().Value()
	f.Add("ness:sms:listing:a1b2c3d4e5f6", v)
	f.Add("ness:sms:listing:x", []byte(`{}`))
	f.Add("sms:+1555", []byte(`{"rev":1}`))
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		b, err := listing.ParseBlind(name, value)
		if err != nil {
			return
		}
		out, err := b.Value()
		if err != nil {
			t.Fatalf("parsed %+v does not re-encode: %v", b, err)
		}
		back, err := listing.ParseBlind(name, out)
		if err != nil || back != b {
			t.Fatalf("round trip: got %+v %v, want %+v", back, err, b)
		}
	})
}

func FuzzParsePublic(f *testing.F) {
	f.Add("sms:+15551234567", []byte(`{"owner":"o","pubkey":"k","status":"available","rented_to":"x"}`))
	f.Add("sms:+1", []byte(`[]`))
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		p, err := listing.ParsePublic(name, value)
		if err != nil {
			return
		}
		out, err := p.Value()
		if err != nil {
			t.Fatalf("parsed %+v does not re-encode: %v", p, err)
		}
		if strings.Contains(string(out), `"rented_to"`) || strings.Contains(string(out), `"rental_expires"`) {
			t.Fatalf("re-encoded record carries renter fields: %s", out)
		}
	})
}

func FuzzParseWORM(f *testing.F) {
	f.Add([]byte(wormUser))
	f.Add([]byte(`<worm><node type="ness" url="u" nonce="AA==" public="j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=" verify="A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=" master-user="a" tariff="1" services="s"/></worm>`))
	f.Add([]byte(`<worm><user/></user></worm>`))
	f.Fuzz(func(t *testing.T, v []byte) {
		if u, err := listing.ParseWORMUser("worm:user:ness:x", v); err == nil && u.Name != "x" {
			t.Fatalf("name: got %q", u.Name)
		}
		_, _ = listing.ParseWORMNode(v)
	})
}
