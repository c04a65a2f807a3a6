package powertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/agent/power/powertest"
	"github.com/ness-network/ness-sms/board"
)

// The fake modem must react as the tests of agent/power assume: only a long
// enough press toggles it, status follows after the delays, and cutting
// supply stops it at once.
func TestModem(t *testing.T) {
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	m := &powertest.Modem{MinPress: 500 * time.Millisecond, BootDelay: 3 * time.Second, ShutdownDelay: time.Second}
	o.Attach(0, m)
	open := func(r board.Role, out bool, init int) power.Line {
		l, err := o.Open(power.Request{Role: r, Output: out, Initial: init, Line: board.Line{Chip: "gpiochip0", ActiveLow: r == board.RoleEnable}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	en := open(board.RoleEnable, true, 1)
	pk := open(board.RolePowerKey, true, 0)
	st := open(board.RoleStatus, false, 0)
	status := func() int { v, _ := st.Value(); return v }
	press := func(d time.Duration) {
		pk.SetValue(1)
		clk.Advance(d)
		pk.SetValue(0)
	}
	steps := []struct {
		do   func()
		want int
		what string
	}{
		{func() {}, 0, "at start"},
		{func() { press(400 * time.Millisecond) }, 0, "after a short press"},
		{func() { clk.Advance(10 * time.Second) }, 0, "long after a short press"},
		{func() { press(500 * time.Millisecond) }, 0, "right after a press"},
		{func() { clk.Advance(2999 * time.Millisecond) }, 0, "just before boot delay"},
		{func() { clk.Advance(time.Millisecond) }, 1, "at boot delay"},
		{func() { press(time.Second) }, 1, "right after an off press"},
		{func() { clk.Advance(time.Second) }, 0, "after the shutdown delay"},
		{func() { press(time.Second); clk.Advance(5 * time.Second) }, 1, "on again"},
		{func() { en.SetValue(0) }, 0, "supply cut"},
		{func() { press(time.Second); clk.Advance(5 * time.Second) }, 0, "press without supply"},
	}
	for _, s := range steps {
		s.do()
		if got := status(); got != s.want {
			t.Fatalf("status %s (t=%v): got %d, want %d", s.what, clk.Elapsed(), got, s.want)
		}
	}
	if got := m.Presses(); got != 3 {
		t.Errorf("Presses: got %d, want 3", got)
	}
	l := o.Line(0, board.RoleEnable)
	if got, want := l.Levels(), []powertest.Event{{At: 0, Value: 0}, {At: clk.Elapsed() - 6*time.Second, Value: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("enable pin levels (active low): got %v, want %v", got, want)
	}
	if err := st.SetValue(1); err == nil {
		t.Errorf("SetValue on an input: got nil error, want one")
	}
}

func TestClock(t *testing.T) {
	clk := powertest.NewClock()
	if err := clk.Sleep(context.Background(), 2*time.Second); err != nil || clk.Elapsed() != 2*time.Second {
		t.Errorf("Sleep(2s): got elapsed %v, err %v; want 2s, nil", clk.Elapsed(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clk.Sleep(ctx, time.Second); err == nil || clk.Elapsed() != 2*time.Second {
		t.Errorf("Sleep(cancelled): got elapsed %v, err %v; want 2s and an error", clk.Elapsed(), err)
	}
}

func TestSimServer(t *testing.T) {
	srv := powertest.NewSimServer(2, 100)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	post := func(path, body string) int {
		resp, err := http.Post(hs.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	state := func(n int) power.SimSlotState {
		o, _ := power.NewSimOpener(hs.URL, nil, powertest.NewClock())
		st, err := o.SlotState(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	checks := []struct {
		path, body string
		code       int
		want       power.SimSlotState
	}{
		{"/slots/1/pwrkey", `{"ms":2000}`, 204, power.SimSlotState{Slot: 1, State: "off"}}, // no supply
		{"/slots/1/power", `{"on":true}`, 204, power.SimSlotState{Slot: 1, Power: true, State: "off"}},
		{"/slots/1/pwrkey", `{"ms":99}`, 204, power.SimSlotState{Slot: 1, Power: true, State: "off"}},
		{"/slots/1/pwrkey", `{"ms":100}`, 204, power.SimSlotState{Slot: 1, Power: true, Status: true, State: "on"}},
		{"/slots/1/pwrkey", `{"ms":"x"}`, 400, power.SimSlotState{Slot: 1, Power: true, Status: true, State: "on"}},
		{"/slots/1/power", `{"on":true,"volts":5}`, 400, power.SimSlotState{Slot: 1, Power: true, Status: true, State: "on"}},
		{"/slots/9/power", `{"on":true}`, 404, power.SimSlotState{Slot: 1, Power: true, Status: true, State: "on"}},
		{"/slots/1/power", `{"on":false}`, 204, power.SimSlotState{Slot: 1, State: "off"}},
	}
	for _, c := range checks {
		if got := post(c.path, c.body); got != c.code {
			t.Errorf("POST %s %s: got %d, want %d", c.path, c.body, got, c.code)
		}
		if got := state(1); got != c.want {
			t.Errorf("after POST %s %s: got %+v, want %+v", c.path, c.body, got, c.want)
		}
	}
}
