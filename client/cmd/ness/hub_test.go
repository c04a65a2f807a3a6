package main

// The hub commands against a real hub (clienttest: SQLite, embedded broker, ingest, leases and
// the HTTP API on loopback) with a simulated agent publishing signed, sealed SMS over MQTT.

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/client/clienttest"
	"github.com/ness-network/ness-sms/internal/testproc"
	"github.com/ness-network/ness-sms/wire"
)

// isolate points the session file at a fresh directory and clears the hub variables.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for _, v := range []string{envHubURL, envToken, envKey} {
		t.Setenv(v, "")
	}
	return dir
}

// decodeJSON strictly decodes a command's JSON output.
func decodeJSON[T any](t *testing.T, what, out string) T {
	t.Helper()
	var v T
	if err := client.DecodeStrict(what, []byte(out), &v); err != nil {
		t.Fatalf("%s: %v\noutput: %s", what, err, out)
	}
	return v
}

// world is a hub with a provider (the agent's) signed in, one number bound on slot 0's SIM and
// a renter signed in through the saved session.
type world struct {
	e                     *clienttest.Env
	dir                   string
	providerToken         string
	renterKey, otherKey   string
	renter                *wire.Identity
	number, iccid, iccid1 string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: isolate(t), e: clienttest.Start(t), number: "+4915550001",
		iccid: clienttest.ICCID(1), iccid1: clienttest.ICCID(2)}
	provKey := filepath.Join(w.dir, "provider.key")
	if err := wire.WriteKeyFile(provKey, w.e.Agent.Provider, wire.KindProvider, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	w.providerToken = strings.TrimSpace(mustRun(t, 0, "login", "--hub", w.e.URL, "--key", provKey, "--print"))
	if !strings.HasPrefix(w.providerToken, "ness_") {
		t.Fatalf("login --print: got %q, want a ness_ token", w.providerToken)
	}
	w.e.PublishStatus(t, w.iccid, w.iccid1)
	mustRun(t, 0, "provider", "numbers", "bind", w.number, "--iccid", w.iccid, "--country", "DE",
		"--daily", "0.5", "--weekly", "3", "--monthly", "10", "--per-sms", "0.01", "--hub", w.e.URL, "--token", w.providerToken)
	w.renterKey = filepath.Join(w.dir, "renter.key")
	w.otherKey = filepath.Join(w.dir, "other.key")
	mustRun(t, 0, "keygen", "--out", w.renterKey, "--kind", "renter")
	mustRun(t, 0, "keygen", "--out", w.otherKey, "--kind", "renter")
	kf, err := wire.ReadKeyFile(w.renterKey)
	if err != nil {
		t.Fatal(err)
	}
	w.renter = kf.Identity
	out := mustRun(t, 0, "login", "--hub", w.e.URL, "--key", w.renterKey)
	if !strings.Contains(out, "signed in to "+w.e.URL) {
		t.Fatalf("login: got %q, want it to name the hub", out)
	}
	return w
}

// rent rents the world's number through the session and returns the rental and the lease the
// agent received.
func (w *world) rent(t *testing.T) (client.RentalView, *wire.Lease) {
	t.Helper()
	r := decodeJSON[client.RentalView](t, "rent --json", mustRun(t, 0, "rent", w.number, "--duration", "daily", "--json"))
	if r.Number != w.number || r.Status != "active" || r.RenterKey != w.renter.Public.String() {
		t.Fatalf("rent: got number %s status %s key %s, want %s active %s", r.Number, r.Status, r.RenterKey, w.number, w.renter.Public)
	}
	return r, w.e.Agent.WaitLease(t, w.iccid, r.LeaseSeq, 10*time.Second)
}

func TestRenterAndProviderCommands(t *testing.T) {
	w := newWorld(t)
	pt := []string{"--hub", w.e.URL, "--token", w.providerToken}

	// The session file holds the token: owner-only.
	path := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "ness", "session.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file %s: got %v, %v, want mode 0600", path, fi, err)
	}

	slots := decodeJSON[client.AgentList](t, "provider slots --json", mustRun(t, 0, append([]string{"provider", "slots", "--json"}, pt...)...))
	if len(slots.Agents) != 1 || len(slots.Agents[0].Slots) != 2 || slots.Agents[0].Slots[0].ICCID != w.iccid || slots.Agents[0].Slots[0].State != wire.SlotRegistered {
		t.Fatalf("provider slots: got %+v, want one agent with 2 slots, slot 0 %s registered", slots, w.iccid)
	}
	human := mustRun(t, 0, append([]string{"provider", "slots"}, pt...)...)
	for _, want := range []string{w.e.Agent.ID, w.iccid, w.iccid1, w.number, "NESS Sim"} {
		if !strings.Contains(human, want) {
			t.Errorf("provider slots: output lacks %q:\n%s", want, human)
		}
	}
	if out := mustRun(t, 0, append([]string{"provider", "price", w.number, "--daily", "0.4", "--per-sms", "0.02"}, pt...)...); !strings.Contains(out, "0.400000/day 3.000000/week 10.000000/month 0.020000/SMS") {
		t.Errorf("provider price: got %q, want the new day and SMS prices with the others kept", out)
	}
	nums := decodeJSON[client.ProviderNumberList](t, "provider numbers --json", mustRun(t, 0, append([]string{"provider", "numbers", "--json"}, pt...)...))
	if len(nums.Numbers) != 1 || nums.Numbers[0].Prices.Day != "0.400000" || nums.Numbers[0].Rented {
		t.Fatalf("provider numbers: got %+v, want %s at 0.400000/day, not rented", nums, w.number)
	}

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--country", "DE"}, []string{w.number}},
		{[]string{"--country", "FR"}, nil},
		{[]string{"--max-price", "0.4"}, []string{w.number}},
		{[]string{"--max-price", "0.3"}, nil},
		{[]string{"--feature", "sms", "--sort", "price"}, []string{w.number}},
		{[]string{"--feature", "voice"}, nil},
	} {
		l := decodeJSON[client.NumberList](t, "numbers --json", mustRun(t, 0, append([]string{"numbers", "--json"}, c.args...)...))
		var got []string
		for _, n := range l.Numbers {
			got = append(got, n.Number)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ness numbers %s: got %v, want %v", strings.Join(c.args, " "), got, c.want)
		}
	}

	r, lease := w.rent(t)
	if l := decodeJSON[client.NumberList](t, "numbers --json", mustRun(t, 0, "numbers", "--json")); len(l.Numbers) != 0 {
		t.Errorf("numbers after renting the only one: got %+v, want none", l.Numbers)
	}
	rs := decodeJSON[client.RentalList](t, "rentals --json", mustRun(t, 0, "rentals", "--json"))
	if len(rs.Rentals) != 1 || rs.Rentals[0].ID != r.ID {
		t.Fatalf("rentals: got %+v, want the one rental %s", rs, r.ID)
	}

	id1 := w.e.SMS(t, 0, lease, "+4917612345678", "Your code is 424242")
	out := mustRun(t, 0, "messages", "--json", "--wait", "10s")
	msg := decodeJSON[smsJSON](t, "messages --json", out)
	if msg.ID != id1 || msg.Text != "Your code is 424242" || msg.Sender != "+4917612345678" || msg.Number != w.number ||
		msg.Rental != r.ID || msg.Provider != w.e.Agent.Provider.Verify.String() || msg.ICCID != w.iccid {
		t.Fatalf("messages --json: got %+v", msg)
	}
	if out := mustRun(t, 0, "messages"); !strings.Contains(out, "  "+w.number+"  +4917612345678  Your code is 424242\n") {
		t.Errorf("messages: got %q, want a line: time, number, sender, text", out)
	}
	// Pinning the provider: the right key passes, another is refused.
	mustRun(t, 0, "messages", "--provider", w.e.Agent.Provider.Verify.String())
	code, _, stderr := runNess(t, "", "messages", "--provider", w.renter.Verify.String())
	if code != 1 || !strings.Contains(stderr, "REJECTED") || !strings.Contains(stderr, "not the expected") {
		t.Errorf("messages --provider OTHER: exit %d stderr %q, want 1 and REJECTED naming the provider", code, stderr)
	}
	// Another key cannot open it, and says so.
	code, stdout, stderr := runNess(t, "", "messages", "--key", w.otherKey)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "REJECTED") || !strings.Contains(stderr, "not to this key") {
		t.Errorf("messages --key OTHER: exit %d stdout %q stderr %q, want 1, nothing shown, REJECTED: not to this key", code, stdout, stderr)
	}

	earn := decodeJSON[client.Earnings](t, "provider earnings --json", mustRun(t, 0, append([]string{"provider", "earnings", "--json"}, pt...)...))
	if earn.Total != "0.400000" || len(earn.Payments) != 1 {
		t.Errorf("provider earnings: got %+v, want 0.400000 from one payment", earn)
	}
	ext := decodeJSON[client.RentalView](t, "rentals extend", mustRun(t, 0, "rentals", "extend", r.ID, "--duration", "weekly", "--json"))
	if !ext.Until.After(r.Until) || ext.LeaseSeq <= r.LeaseSeq {
		t.Errorf("rentals extend: got until %v lease #%d, want after %v and above #%d", ext.Until, ext.LeaseSeq, r.Until, r.LeaseSeq)
	}
	if out := mustRun(t, 0, "rentals", "cancel", r.ID); !strings.Contains(out, r.ID) {
		t.Errorf("rentals cancel: got %q", out)
	}
	mustRun(t, 0, "logout")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after logout the session file: got %v, want it gone", err)
	}
}

func TestHubCommandErrors(t *testing.T) {
	w := newWorld(t)
	origin127 := w.e.URL
	localhost := strings.Replace(origin127, "127.0.0.1", "localhost", 1)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"rent without duration", nil, []string{"rent", w.number}, 2, []string{"--duration"}},
		{"rent bad duration", nil, []string{"rent", w.number, "--duration", "hourly"}, 2, []string{"hourly", "daily, weekly or monthly"}},
		{"rent not E.164", nil, []string{"rent", "12345", "--duration", "daily"}, 1, []string{"invalid_request (HTTP 400)", "number", "E.164"}},
		{"rent unknown number", nil, []string{"rent", "+4915559999", "--duration", "daily"}, 1, []string{"hub says", "HTTP 404"}},
		{"bad token", map[string]string{envToken: "ness_bogus"}, []string{"rentals"}, 1, []string{"unauthenticated (HTTP 401)", "ness login"}},
		{"no hub at all", map[string]string{"XDG_CONFIG_HOME": t.TempDir()}, []string{"rentals"}, 2, []string{"no hub", envHubURL}},
		{"hub but not signed in", map[string]string{"XDG_CONFIG_HOME": t.TempDir(), envHubURL: origin127}, []string{"rentals"}, 2, []string{"not signed in to " + origin127}},
		{"hub URL with a path", nil, []string{"numbers", "--hub", origin127 + "/v1"}, 2, []string{"no path"}},
		{"login at another origin", nil, []string{"login", "--hub", localhost, "--key", w.renterKey}, 1, []string{"refusing to sign", origin127}},
		{"login public-only key", nil, []string{"login", "--key", writePublicKey(t, w.renter)}, 1, []string{"no private key"}},
		{"provider calls by a renter-only account", nil, []string{"provider", "price", w.number, "--daily", "1"}, 1, []string{"HTTP 404"}},
		{"bind with a price missing", nil, []string{"provider", "numbers", "bind", "+4915550002", "--iccid", w.iccid1, "--country", "DE", "--daily", "1"}, 2, []string{"--monthly, --per-sms, --weekly missing"}},
		{"bind an ICCID no agent reports", map[string]string{envToken: w.providerToken}, []string{"provider", "numbers", "bind", "+4915550002", "--iccid", clienttest.ICCID(99), "--country", "DE", "--daily", "1", "--weekly", "1", "--monthly", "1", "--per-sms", "0"}, 1, []string{"no agent of yours reports", clienttest.ICCID(99)}},
		{"bind on an agent not ours", map[string]string{envToken: w.providerToken}, []string{"provider", "numbers", "bind", "+4915550002", "--agent", strings.Repeat("ab", 16), "--iccid", w.iccid1, "--country", "DE", "--daily", "1", "--weekly", "1", "--monthly", "1", "--per-sms", "0"}, 1, []string{"hub says"}},
		{"price with nothing to change", nil, []string{"provider", "price", w.number}, 2, []string{"at least one of"}},
		{"tail with an argument", nil, []string{"tail", "now"}, 2, []string{"unexpected arguments"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, out, stderr := runNess(t, "", c.args...)
			if code != c.code {
				t.Fatalf("ness %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.code, out, stderr)
			}
			for _, want := range c.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("ness %s: stderr %q lacks %q", strings.Join(c.args, " "), stderr, want)
				}
			}
		})
	}
}

func writePublicKey(t *testing.T, id *wire.Identity) string {
	t.Helper()
	b, err := wire.MarshalPublicKeyFile(id.Verify, id.Public, wire.KindRenter, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "public.key")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTail runs ness tail in process, publishes SMS from the simulated agent and measures
// publication → decrypted line on tail's output. The figure is logged, not asserted (the demo
// check asserts the 2 s from a modem injection).
func TestTail(t *testing.T) {
	w := newWorld(t)
	_, lease := w.rent(t)
	before := w.e.SMS(t, 0, lease, "+4917600000000", "sent before tail started")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer func(old func() (context.Context, context.CancelFunc)) { commandContext = old }(commandContext)
	commandContext = func() (context.Context, context.CancelFunc) { return ctx, func() {} }
	pr, pw := io.Pipe()
	stderr := &testproc.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(&cmdEnv{stdin: strings.NewReader(""), stdout: pw, stderr: stderr}, []string{"tail", "--json"})
		pw.Close()
	}()
	lines := bufio.NewReader(pr)
	readLine := func() smsJSON {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			l, _ := lines.ReadString('\n')
			got <- l
		}()
		select {
		case l := <-got:
			return decodeJSON[smsJSON](t, "tail --json line", l)
		case <-time.After(10 * time.Second):
			t.Fatalf("tail: no line after 10s; stderr: %s", stderr.String())
		}
		panic("unreachable")
	}
	if m := readLine(); m.ID != before || m.Text != "sent before tail started" {
		t.Fatalf("tail: first line %+v, want the earlier message %s replayed", m, before)
	}
	const n = 20
	var lat []time.Duration
	var last string
	for i := range n {
		text := "code " + strings.Repeat(string(rune('0'+i%10)), 6)
		t0 := time.Now()
		last = w.e.SMS(t, i%2, lease, "+4917611111111", text)
		m := readLine()
		lat = append(lat, time.Since(t0))
		if m.ID != last || m.Text != text || m.Number != w.number {
			t.Fatalf("tail line %d: got %+v, want %s %q on %s", i, m, last, text, w.number)
		}
	}
	slices.Sort(lat)
	t.Logf("publish → decrypted tail line over %d SMS: p50 %v, max %v", n, lat[n/2], lat[n-1])
	if s := stderr.String(); !strings.Contains(s, "connected to "+w.e.URL) {
		t.Errorf("tail stderr: got %q, want a connected notice", s)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("tail after Ctrl-C: exit %d, want 0; stderr %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop 10s after its context ended")
	}

	// Resume: after the message before the last, exactly the last one comes.
	commandContext = func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 20*time.Second)
	}
	all := mustRun(t, 0, "messages", "--json")
	ids := []string{}
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		ids = append(ids, decodeJSON[smsJSON](t, "messages --json line", l).ID)
	}
	if len(ids) != n+1 || ids[n] != last {
		t.Fatalf("messages: got %d ids ending %v, want %d ending %s", len(ids), ids[len(ids)-1:], n+1, last)
	}
	code, out, errOut := runNess(t, "", "tail", "--json", "--quiet", "--count", "1", "--after", ids[n-1])
	if code != 0 {
		t.Fatalf("tail --after: exit %d stderr %s", code, errOut)
	}
	if m := decodeJSON[smsJSON](t, "tail --after line", out); m.ID != last {
		t.Fatalf("tail --after %s --count 1: got %s, want %s", ids[n-1], m.ID, last)
	}
	if errOut != "" {
		t.Errorf("tail --quiet: stderr %q, want nothing", errOut)
	}
}
