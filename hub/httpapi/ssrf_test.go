package httpapi_test

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/httpapi"
)

// Without the development setting AllowPrivateWebhooks, the hub must not be a way into its own
// network: a webhook URL naming a loopback, private or link-local address is refused, and a name
// that resolves to one is never connected to (DNS can change after the URL was accepted).
func TestWebhookPrivateTargets(t *testing.T) {
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.AllowPrivateWebhooks = false })
	const number, iccid = "+4915100000011", "8949000000000000011"
	prov := e.enrol(t, e.signIn(t))
	prov.bind(t, number, iccid)
	alice := e.signIn(t)
	rental := alice.rent(t, number)
	lease := prov.waitLease(t, iccid, rental.LeaseSeq)

	for _, u := range []string{
		"https://127.0.0.1/hook", "https://[::1]:8443/hook", "https://10.1.2.3/hook", "https://192.168.0.1/",
		"https://169.254.169.254/latest/meta-data/", "https://[fd00::1]/", "https://0.0.0.0/", "https://100.64.0.1/",
		"https://[::ffff:127.0.0.1]/", "https://localhost/hook",
	} {
		code, body, _ := alice.req(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: u})
		if code != http.StatusBadRequest {
			t.Errorf("POST /v1/webhooks %s: got %d %s, want 400", u, code, body)
		}
	}

	// A name accepted at creation that resolves to loopback at delivery: this machine's name.
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if addrs, err := net.LookupHost(name); err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
		t.Skipf("host name %q resolves to %v (%v), not 127.0.0.1: no name to test resolution with", name, addrs, err)
	}
	rcv := newReceiver(t, http.StatusNoContent)
	port := rcv.srv.URL[strings.LastIndex(rcv.srv.URL, ":"):]
	var hook httpapi.WebhookView
	alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: "http://" + name + port + "/hook"},
		http.StatusCreated, &hook)
	prov.sms(t, lease, "code 424242")
	var ds httpapi.DeliveryList
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		alice.do(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", nil, http.StatusOK, &ds)
		if len(ds.Deliveries) == 1 && ds.Deliveries[0].Attempts > 0 {
			break
		}
	}
	rcv.mu.Lock()
	got := len(rcv.got)
	rcv.mu.Unlock()
	if got != 0 {
		t.Fatalf("webhook to a name resolving to loopback: receiver got %d deliveries, want none", got)
	}
	if len(ds.Deliveries) != 1 || !strings.Contains(ds.Deliveries[0].LastError, "not a public address") {
		t.Fatalf("deliveries: got %+v, want one attempt failing with \"not a public address\"", ds.Deliveries)
	}
}
