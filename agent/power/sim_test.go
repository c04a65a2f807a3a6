package power_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/agent/power/powertest"
	"github.com/ness-network/ness-sms/board"
)

// simRig is the `sim` board with n slots against a fake control API.
type simRig struct {
	srv *powertest.SimServer
	clk *powertest.Clock
	cs  []*power.Controller
}

func newSimRig(t *testing.T, n int, minPressMS int64, env map[string]string) simRig {
	t.Helper()
	srv := powertest.NewSimServer(n, minPressMS)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	p, err := board.ByName("sim")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	p, err = p.Expand(n, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clk := powertest.NewClock()
	o, err := power.NewSimOpener(hs.URL, hs.Client(), clk)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := power.OpenBoard(p, o, clk)
	if err != nil {
		t.Fatalf("OpenBoard(sim): %v", err)
	}
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	return simRig{srv, clk, cs}
}

// posts returns the POST calls after the first skip calls.
func (r simRig) posts(skip int) []string {
	var out []string
	for _, c := range r.srv.Calls()[skip:] {
		if strings.HasPrefix(c, "POST") {
			out = append(out, c)
		}
	}
	return out
}

func TestSimStartupSuppliesEverySlot(t *testing.T) {
	r := newSimRig(t, 3, 100, nil)
	want := []string{
		`POST /slots/0/power {"on":true}`,
		`POST /slots/1/power {"on":true}`,
		`POST /slots/2/power {"on":true}`,
	}
	if got := r.srv.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls at start-up: got %q, want %q", got, want)
	}
}

func TestSimPowerOnOffCycle(t *testing.T) {
	r := newSimRig(t, 2, 100, nil)
	ctx := context.Background()
	c := r.cs[1]
	n := len(r.srv.Calls())

	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	// The sim profile uses the sim7600 family: a 2 s press, timed on the clock.
	want := []string{"GET /slots/1", `POST /slots/1/pwrkey {"ms":2000}`, "GET /slots/1"}
	if got := r.srv.Calls()[n:]; !reflect.DeepEqual(got, want) {
		t.Errorf("PowerOn calls: got %q, want %q", got, want)
	}
	if on, known, err := c.Status(ctx); !on || !known || err != nil {
		t.Errorf("Status after PowerOn: got (%v, %v, %v), want (true, true, nil)", on, known, err)
	}
	if on, _, _ := r.cs[0].Status(ctx); on {
		t.Errorf("slot 0 Status: got on, want off (only slot 1 was pressed)")
	}

	n = len(r.srv.Calls())
	if err := c.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	wantPosts := []string{`POST /slots/1/pwrkey {"ms":3000}`, `POST /slots/1/power {"on":false}`}
	if got := r.posts(n); !reflect.DeepEqual(got, wantPosts) {
		t.Errorf("PowerOff posts: got %q, want %q", got, wantPosts)
	}

	n = len(r.srv.Calls())
	if err := c.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	// Already off: no press (it would switch it on), supply already cut;
	// then supply on and a power-on press.
	wantPosts = []string{`POST /slots/1/power {"on":true}`, `POST /slots/1/pwrkey {"ms":2000}`}
	if got := r.posts(n); !reflect.DeepEqual(got, wantPosts) {
		t.Errorf("PowerCycle posts: got %q, want %q", got, wantPosts)
	}
	if on, _, _ := c.Status(ctx); !on {
		t.Errorf("Status after PowerCycle: got off, want on")
	}
}

// A hung module ignores its key; the power cycle falls back on the supply
// after the shutdown wait, and the module comes back.
func TestSimHungSlotRecovers(t *testing.T) {
	r := newSimRig(t, 4, 100, nil)
	ctx := context.Background()
	for _, c := range r.cs {
		if err := c.PowerOn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r.srv.SetHung(2, true)
	start := r.clk.Elapsed()
	n := len(r.srv.Calls())
	if err := r.cs[2].Reset(ctx); err != nil {
		t.Fatalf("Reset(hung slot): %v", err)
	}
	wantPosts := []string{
		`POST /slots/2/pwrkey {"ms":3000}`, // ignored
		`POST /slots/2/power {"on":false}`, // after the 18 s shutdown wait
		`POST /slots/2/power {"on":true}`,  // after the 2 s off time
		`POST /slots/2/pwrkey {"ms":2000}`,
	}
	if got := r.posts(n); !reflect.DeepEqual(got, wantPosts) {
		t.Errorf("Reset posts: got %q, want %q", got, wantPosts)
	}
	// 3 s press + 18 s wait + 2 s off + 100 ms settle + 2 s press.
	if got, want := r.clk.Elapsed()-start, 25*s+100*ms; got != want {
		t.Errorf("Reset took %v, want %v", got, want)
	}
	for i, c := range r.cs {
		if on, _, _ := c.Status(ctx); !on {
			t.Errorf("slot %d after the reset of slot 2: got off, want on", i)
		}
	}
}

// A press shorter than the model's minimum does not start the module; the
// controller reports the boot timeout rather than success.
func TestSimShortPressBootTimeout(t *testing.T) {
	r := newSimRig(t, 1, 500, map[string]string{"NESS_AGENT_PWRKEY_ON_MS": "200", "NESS_AGENT_BOOT_TIMEOUT": "3s"})
	err := r.cs[0].PowerOn(context.Background())
	if !errors.Is(err, power.ErrBootTimeout) {
		t.Fatalf("PowerOn with a 200 ms press: got %v, want ErrBootTimeout", err)
	}
	if got := r.posts(1); !reflect.DeepEqual(got, []string{`POST /slots/0/pwrkey {"ms":200}`}) {
		t.Errorf("posts: got %q", got)
	}
}

func TestSimErrors(t *testing.T) {
	clk := powertest.NewClock()
	for _, bad := range []string{"", "127.0.0.1:7070", "ftp://x", "http://"} {
		if _, err := power.NewSimOpener(bad, nil, clk); err == nil {
			t.Errorf("NewSimOpener(%q): got nil error, want one", bad)
		}
	}

	srv := powertest.NewSimServer(1, 100)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	o, err := power.NewSimOpener(hs.URL+"/", nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []board.Role{board.RoleReset, board.RoleFlightMode} {
		_, err := o.Open(power.Request{Slot: 0, Role: role, Line: board.Line{Chip: "ness-modemsim", Offset: 0}, Output: true})
		if err == nil || !strings.Contains(err.Error(), "no "+string(role)+" control") {
			t.Errorf("Open(%s): got %v, want a no-control error", role, err)
		}
	}
	// Slot 5 does not exist: the simulator's 404 comes back with its text.
	_, err = o.Open(power.Request{Slot: 5, Role: board.RoleEnable, Line: board.Line{Chip: "ness-modemsim-supply", Offset: 5}, Output: true, Initial: 1})
	if err == nil || !strings.Contains(err.Error(), "sim slot 5: POST") || !strings.Contains(err.Error(), "404") {
		t.Errorf("Open(enable, slot 5): got %v, want the 404 naming slot 5", err)
	}
	st, err := o.Open(power.Request{Slot: 5, Role: board.RoleStatus, Line: board.Line{Chip: "ness-modemsim-status", Offset: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Value(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("status Value(slot 5): got %v, want a 404 error", err)
	}
	if err := st.SetValue(1); err == nil {
		t.Errorf("status SetValue: got nil error, want one (input)")
	}

	// A simulator that answers with junk or for the wrong slot.
	for name, body := range map[string]string{"junk": "not json", "wrong slot": `{"slot":3,"status":true}`} {
		junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		jo, _ := power.NewSimOpener(junk.URL, nil, clk)
		if _, err := jo.SlotState(context.Background(), 0); err == nil {
			t.Errorf("%s: SlotState: got nil error, want one", name)
		}
		junk.Close()
	}

	// Nothing listening.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	do, _ := power.NewSimOpener(url, nil, clk)
	if _, err := do.Open(power.Request{Role: board.RoleEnable, Output: true, Initial: 1}); err == nil || !strings.Contains(err.Error(), "sim slot 0") {
		t.Errorf("Open with no simulator: got %v, want an error naming the slot", err)
	}
}
