package emercoin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func TestParseChap(t *testing.T) {
	cases := []struct {
		in   string
		amt  emercoin.Amount
		risk uint32
		msg  string
	}{
		{"1.00:6:" + strings.Repeat("0", 39) + "1", emercoin.Coin, 6, ""},
		{"0.1234:100:ff", 123_400, 100, ""},
		{"1.00", 0, 0, "Invalid chap format, must be amount[:]dec:hex"},
		{"1.00:6", 0, 0, "Invalid chap format, must be amount:dec[:]hex"},
		{"x:6:00", 0, 0, "Invalid amount for send"},
		{"0:6:00", 0, 0, "Invalid amount for send"},
		{"1.00:0:00", 0, 0, "Invalid chap, risk must not be zero"},
		{"1.00:6:xyz", 0, 0, "Invalid chap format, must be amount:dec[:]hex"},
		{"1.00:2:" + strings.Repeat("f", 40), 0, 0, "Invalid chap format, must be amount:dec[:]hex"},
	}
	for _, tc := range cases {
		c, err := emercoin.ParseChap(tc.in)
		msg := ""
		var ce *emercoin.ChapError
		if errors.As(err, &ce) {
			msg = ce.Message
		} else if err != nil {
			t.Fatalf("ParseChap(%q): error %v is not a *ChapError", tc.in, err)
		}
		if msg != tc.msg || c.Amount != tc.amt || c.Risk != tc.risk {
			t.Errorf("ParseChap(%q): got %d %d %q, want %d %d %q", tc.in, c.Amount, c.Risk, msg, tc.amt, tc.risk, tc.msg)
		}
	}
	c, _ := emercoin.ParseChap("1:6:0a")
	if got, want := c.String(), "1.00:6:"+strings.Repeat("0", 38)+"0a"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}
