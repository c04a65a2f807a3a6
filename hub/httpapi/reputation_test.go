package httpapi

import (
	"testing"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/wire"
)

// TestNumberReputation checks the health-based reputation against the slot states agents really
// report (agent.SlotStatus.Wire maps a ready slot to wire.SlotRegistered).
func TestNumberReputation(t *testing.T) {
	n := hub.Number{E164: "+15550001111", AgentID: "a1", ICCID: "8900000000000000001"}
	tests := []struct {
		name   string
		online bool
		state  string
		reg    string
		want   int
	}{
		{"offline agent", false, wire.SlotRegistered, "home", 0},
		{"online, slot ready at home", true, wire.SlotRegistered, "home", 100},
		{"online, slot ready roaming", true, wire.SlotRegistered, "roaming", 100},
		{"online, slot searching", true, wire.SlotSearching, "searching", 50},
		{"online, slot powering", true, wire.SlotPowering, "", 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := health{
				agents: map[string]hub.Agent{"a1": {ID: "a1", Online: tc.online}},
				slots:  map[string]hub.Slot{"a1/" + n.ICCID: {AgentID: "a1", ICCID: n.ICCID, State: tc.state, Registration: tc.reg}},
			}
			if got := numberView(n, h).Reputation; got != tc.want {
				t.Fatalf("reputation for %s = %d, want %d", tc.name, got, tc.want)
			}
		})
	}
}
