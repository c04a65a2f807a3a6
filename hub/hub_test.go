package hub_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

func TestMicroString(t *testing.T) {
	for _, c := range []struct {
		in   hub.Micro
		want string
	}{
		{0, "0.000000"},
		{1, "0.000001"},
		{1_000_000, "1.000000"},
		{1_250_000, "1.250000"},
		{-10_000, "-0.010000"},
		{-1 << 63, "-9223372036854.775808"},
		{1<<63 - 1, "9223372036854.775807"},
	} {
		if got := c.in.String(); got != c.want {
			t.Errorf("Micro(%d).String(): got %q, want %q", int64(c.in), got, c.want)
		}
	}
}

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func(string) bool
		in   string
		want bool
	}{
		{"agent id", hub.ValidAgentID, strings.Repeat("0a", 16), true},
		{"agent id upper case", hub.ValidAgentID, strings.Repeat("0A", 16), false},
		{"agent id short", hub.ValidAgentID, strings.Repeat("0a", 15), false},
		{"agent id wildcard", hub.ValidAgentID, strings.Repeat("0a", 15) + "+#", false},
		{"e164", hub.ValidE164, "+4917012345678", true},
		{"e164 shortest", hub.ValidE164, "+12", true},
		{"e164 longest", hub.ValidE164, "+123456789012345", true},
		{"e164 too long", hub.ValidE164, "+1234567890123456", false},
		{"e164 no plus", hub.ValidE164, "4917012345678", false},
		{"e164 leading zero", hub.ValidE164, "+0170", false},
		{"e164 letters", hub.ValidE164, "+49170abc", false},
		{"iccid 19", hub.ValidICCID, "8944000000000000001", true},
		{"iccid 20 with F", hub.ValidICCID, "8944000000000000001F", true},
		{"iccid short", hub.ValidICCID, "89440000000000001", false},
		{"iccid letters", hub.ValidICCID, "89440000000000000AB", false},
	} {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("%s: valid(%q): got %v, want %v", c.name, c.in, got, c.want)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	key := make([]byte, hub.KeySize)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := hub.Rental{ID: "r", E164: "+4917012345", ICCID: "8944000000000000001", RenterSealKey: key,
		RenterSignKey: key, From: now, Until: now.Add(time.Hour), Status: hub.RentalActive}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid rental: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(*hub.Rental)
	}{
		{"ID", func(r *hub.Rental) { r.ID = "" }},
		{"E164", func(r *hub.Rental) { r.E164 = "123" }},
		{"ICCID", func(r *hub.Rental) { r.ICCID = "" }},
		{"RenterSealKey", func(r *hub.Rental) { r.RenterSealKey = key[:31] }},
		{"RenterSignKey", func(r *hub.Rental) { r.RenterSignKey = nil }},
		{"Until", func(r *hub.Rental) { r.Until = r.From }},
		{"Status", func(r *hub.Rental) { r.Status = "" }},
		{"LeaseSeq", func(r *hub.Rental) { r.LeaseSeq = 1 << 63 }},
	} {
		r := good
		c.change(&r)
		var ie *hub.InvalidError
		if err := r.Validate(); !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("rental with bad %s: got %v, want *InvalidError for field %s", c.field, err, c.field)
		}
	}
}

func TestNormalFeatures(t *testing.T) {
	got := hub.NormalFeatures([]string{"sms", "long-sms", "sms", "a"})
	want := []string{"a", "long-sms", "sms"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("NormalFeatures: got %v, want %v", got, want)
	}
	in := []string{"b", "a"}
	hub.NormalFeatures(in)
	if in[0] != "b" {
		t.Errorf("NormalFeatures modified its input: %v", in)
	}
}
