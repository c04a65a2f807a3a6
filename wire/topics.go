package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// MQTT topics. Everything an agent publishes or receives lives under its own subtree
// ness/v1/agent/<agent id>/, so one broker ACL pattern (AgentACLPattern, with the MQTT username
// set to the agent id) confines each agent.
const (
	TopicRoot = "ness/v1/"
	// AgentACLPattern is the Mosquitto pattern ACL line's topic: %u is the username (agent id).
	AgentACLPattern = "ness/v1/agent/%u/#"
	agentPrefix     = "ness/v1/agent/"
	// MaxTopicLen bounds topics handed to ParseTopic.
	MaxTopicLen = 256
)

// TopicKind says what a topic carries.
type TopicKind int

const (
	TopicInvalid    TopicKind = iota
	TopicSMS                  // agent → hub: ness/v1/agent/<id>/sms, QoS 1, SMS
	TopicStatus               // agent → hub: ness/v1/agent/<id>/status, retained Status (also the last will)
	TopicSlotStatus           // agent → hub: ness/v1/agent/<id>/status/<slot>, retained one-slot Status
	TopicLease                // hub → agent: ness/v1/agent/<id>/lease/<iccid>, retained Lease
	TopicReceipt              // hub → agent: ness/v1/agent/<id>/receipt, QoS 1, Receipt
	TopicReady                // hub → agent: ness/v1/agent/<id>/ready, QoS 0: "a hub has just subscribed"
)

func (k TopicKind) String() string {
	switch k {
	case TopicSMS:
		return "sms"
	case TopicStatus:
		return "status"
	case TopicSlotStatus:
		return "slot status"
	case TopicLease:
		return "lease"
	case TopicReceipt:
		return "receipt"
	case TopicReady:
		return "ready"
	}
	return "invalid"
}

// Topic is a parsed topic.
type Topic struct {
	Kind    TopicKind
	AgentID string
	Slot    int    // TopicSlotStatus only
	ICCID   string // TopicLease only
}

// String builds the topic name.
func (t Topic) String() string {
	base := agentPrefix + t.AgentID + "/"
	switch t.Kind {
	case TopicSMS:
		return base + "sms"
	case TopicStatus:
		return base + "status"
	case TopicSlotStatus:
		return base + "status/" + strconv.Itoa(t.Slot)
	case TopicLease:
		return base + "lease/" + t.ICCID
	case TopicReceipt:
		return base + "receipt"
	case TopicReady:
		return base + "ready"
	}
	return ""
}

// SMSTopic is where an agent publishes SMS messages.
func SMSTopic(agentID string) string { return Topic{Kind: TopicSMS, AgentID: agentID}.String() }

// StatusTopic is an agent's retained agent-level status (and last will).
func StatusTopic(agentID string) string { return Topic{Kind: TopicStatus, AgentID: agentID}.String() }

// SlotStatusTopic is an agent's retained status for one slot.
func SlotStatusTopic(agentID string, slot int) string {
	return Topic{Kind: TopicSlotStatus, AgentID: agentID, Slot: slot}.String()
}

// LeaseTopic is where the hub publishes the retained lease for one SIM of an agent.
func LeaseTopic(agentID, iccid string) string {
	return Topic{Kind: TopicLease, AgentID: agentID, ICCID: iccid}.String()
}

// ReceiptTopic is where the hub publishes receipts for an agent.
func ReceiptTopic(agentID string) string { return Topic{Kind: TopicReceipt, AgentID: agentID}.String() }

// ReadyTopic is where a hub tells an agent that it has just subscribed to the agents' SMS (after
// every connect). A broker may have dropped SMS that arrived while no hub was subscribed —
// Mosquitto 2.0 does not persist shared subscriptions, so after a restart a hub's restored
// session has none until the hub subscribes again — so the agent publishes again everything
// without a receipt. The payload is informative only (the hub's MQTT client id); agents do not
// parse it.
func ReadyTopic(agentID string) string { return Topic{Kind: TopicReady, AgentID: agentID}.String() }

// AgentSubscriptions are the filters an agent subscribes to (leases, receipts, hub ready).
func AgentSubscriptions(agentID string) []string {
	return []string{agentPrefix + agentID + "/lease/+", ReceiptTopic(agentID), ReadyTopic(agentID)}
}

// HubSubscriptions are the filters the hub subscribes to (all agents' SMS and statuses). With
// several hub instances, prefix the SMS filter with "$share/<group>/".
func HubSubscriptions() []string {
	return []string{agentPrefix + "+/sms", agentPrefix + "+/status", agentPrefix + "+/status/+"}
}

// ParseTopic strictly parses a topic name received from the broker.
func ParseTopic(s string) (Topic, error) {
	bad := func(format string, args ...any) (Topic, error) {
		return Topic{}, fmt.Errorf("topic %q: %s", trunc(s), fmt.Sprintf(format, args...))
	}
	if len(s) > MaxTopicLen {
		return bad("%d bytes exceeds the limit of %d", len(s), MaxTopicLen)
	}
	if !strings.HasPrefix(s, agentPrefix) {
		return bad("does not start with %s", agentPrefix)
	}
	parts := strings.Split(s[len(agentPrefix):], "/")
	if err := CheckAgentID(parts[0]); err != nil {
		return bad("agent: %v", err)
	}
	t := Topic{AgentID: parts[0]}
	switch {
	case len(parts) == 2 && parts[1] == "sms":
		t.Kind = TopicSMS
	case len(parts) == 2 && parts[1] == "status":
		t.Kind = TopicStatus
	case len(parts) == 2 && parts[1] == "receipt":
		t.Kind = TopicReceipt
	case len(parts) == 2 && parts[1] == "ready":
		t.Kind = TopicReady
	case len(parts) == 3 && parts[1] == "status":
		n, err := parseSlot(parts[2])
		if err != nil {
			return bad("slot: %v", err)
		}
		t.Kind, t.Slot = TopicSlotStatus, n
	case len(parts) == 3 && parts[1] == "lease":
		if err := CheckICCID(parts[2]); err != nil {
			return bad("%v", err)
		}
		t.Kind, t.ICCID = TopicLease, parts[2]
	default:
		return bad("unknown topic under the agent's subtree")
	}
	return t, nil
}

// parseSlot accepts canonical decimal 0..MaxSlots: no sign, no leading zeros.
func parseSlot(s string) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a slot number 0..%d", s, MaxSlots)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a slot number 0..%d", s, MaxSlots)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > MaxSlots {
		return 0, fmt.Errorf("%d is outside 0..%d", n, MaxSlots)
	}
	return n, nil
}
