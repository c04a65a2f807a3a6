package wire

import (
	"strings"
	"testing"
)

func TestTopicsRoundTrip(t *testing.T) {
	a := seedIdentity(t, 1).AgentID()
	cases := []struct {
		topic string
		want  Topic
	}{
		{SMSTopic(a), Topic{Kind: TopicSMS, AgentID: a}},
		{StatusTopic(a), Topic{Kind: TopicStatus, AgentID: a}},
		{SlotStatusTopic(a, 0), Topic{Kind: TopicSlotStatus, AgentID: a, Slot: 0}},
		{SlotStatusTopic(a, 31), Topic{Kind: TopicSlotStatus, AgentID: a, Slot: 31}},
		{LeaseTopic(a, "8944501234567890123"), Topic{Kind: TopicLease, AgentID: a, ICCID: "8944501234567890123"}},
		{ReceiptTopic(a), Topic{Kind: TopicReceipt, AgentID: a}},
		{ReadyTopic(a), Topic{Kind: TopicReady, AgentID: a}},
	}
	for _, c := range cases {
		if !strings.HasPrefix(c.topic, "ness/v1/agent/"+a+"/") {
			t.Errorf("%s: not under the agent's subtree", c.topic)
		}
		got, err := ParseTopic(c.topic)
		if err != nil || got != c.want {
			t.Errorf("ParseTopic(%q): got %+v, %v; want %+v", c.topic, got, err, c.want)
		}
		if got.String() != c.topic {
			t.Errorf("Topic.String: got %q, want %q", got.String(), c.topic)
		}
	}
	if got, want := SMSTopic(a), "ness/v1/agent/"+a+"/sms"; got != want {
		t.Errorf("SMSTopic: got %q, want %q", got, want)
	}
}

func TestParseTopicErrors(t *testing.T) {
	a := seedIdentity(t, 1).AgentID()
	cases := []struct{ in, want string }{
		{"", "does not start"},
		{"ness/v2/agent/" + a + "/sms", "does not start"},
		{"ness/v1/agent/" + strings.ToUpper(a) + "/sms", "agent"},
		{"ness/v1/agent/" + a[:31] + "/sms", "agent"},
		{"ness/v1/agent/" + a + "/sms/extra", "unknown topic"},
		{"ness/v1/agent/" + a + "/smsx", "unknown topic"},
		{"ness/v1/agent/" + a + "/ready/1", "unknown topic"},
		{"ness/v1/agent/" + a + "/status/01", "slot"},
		{"ness/v1/agent/" + a + "/status/-1", "slot"},
		{"ness/v1/agent/" + a + "/status/257", "slot"},
		{"ness/v1/agent/" + a + "/status/", "slot"},
		{"ness/v1/agent/" + a + "/lease/+", "ICCID"},
		{"ness/v1/agent/" + a + "/lease/894450123456789012F", "ICCID"},
		{"ness/v1/agent/" + a + "/", "unknown topic"},
		{"ness/v1/agent/" + a + "/sms" + strings.Repeat("x", 300), "limit"},
	}
	for _, c := range cases {
		if got, err := ParseTopic(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTopic(%q): got %+v, %v; want an error containing %q", c.in, got, err, c.want)
		}
	}
}

func TestSubscriptionsCoverTopics(t *testing.T) {
	a := seedIdentity(t, 1).AgentID()
	for _, topic := range []string{SMSTopic(a), StatusTopic(a), SlotStatusTopic(a, 2)} {
		if !anyMatch(HubSubscriptions(), topic) {
			t.Errorf("hub subscriptions %v do not match %s", HubSubscriptions(), topic)
		}
	}
	for _, topic := range []string{LeaseTopic(a, "894450123456"), ReceiptTopic(a), ReadyTopic(a)} {
		if !anyMatch(AgentSubscriptions(a), topic) {
			t.Errorf("agent subscriptions do not match %s", topic)
		}
		if anyMatch(HubSubscriptions(), topic) {
			t.Errorf("hub subscriptions match its own output %s", topic)
		}
	}
	acl := strings.Replace(AgentACLPattern, "%u", a, 1)
	for _, topic := range []string{SMSTopic(a), StatusTopic(a), SlotStatusTopic(a, 0), LeaseTopic(a, "894450123456"), ReceiptTopic(a), ReadyTopic(a)} {
		if !matchFilter(acl, topic) {
			t.Errorf("ACL %s does not cover %s", acl, topic)
		}
	}
}

func anyMatch(filters []string, topic string) bool {
	for _, f := range filters {
		if matchFilter(f, topic) {
			return true
		}
	}
	return false
}

// matchFilter implements MQTT topic filter matching (+ and #) for the test.
func matchFilter(filter, topic string) bool {
	fp, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fp {
		if f == "#" {
			return true
		}
		if i >= len(tp) || (f != "+" && f != tp[i]) {
			return false
		}
	}
	return len(fp) == len(tp)
}
