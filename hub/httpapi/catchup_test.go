package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/notify"
)

// deaf is a notifier whose subscribers never hear anything: every live event is dropped, as a
// lost PostgreSQL notification or a full webhook queue would drop it.
type deaf struct{ *notify.Local }

func (deaf) Subscribe() (<-chan notify.Event, func()) { return make(chan notify.Event), func() {} }

// TestWebhookCatchUp: with every live event dropped, each message still reaches the webhooks
// of its renter exactly once, through the dispatcher's scan of the store; a second API instance
// started later (a restarted hub) on the same store delivers nothing twice.
func TestWebhookCatchUp(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := startEnv(t, b, func(c *httpapi.Config) { c.Notify = deaf{notify.NewLocal()} })
			const number, iccid = "+4915100000031", "8949000000000000031"
			prov := e.enrol(t, e.signIn(t))
			prov.bind(t, number, iccid)
			alice := e.signIn(t)
			rental := alice.rent(t, number)
			lease := prov.waitLease(t, iccid, rental.LeaseSeq)
			all, one := newReceiver(t, http.StatusNoContent), newReceiver(t, http.StatusNoContent)
			alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: all.srv.URL}, http.StatusCreated, nil)
			alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: one.srv.URL, Rental: rental.ID}, http.StatusCreated, nil)

			var ids []string
			for _, text := range []string{"one", "two", "three"} {
				ids = append(ids, prov.sms(t, lease, text))
			}
			check := func(what string) {
				t.Helper()
				for name, r := range map[string]*receiver{"account webhook": all, "rental webhook": one} {
					r.wait(t, len(ids))
					time.Sleep(100 * time.Millisecond) // many dispatcher ticks: a second delivery would show
					r.mu.Lock()
					got := slices.Clone(r.got)
					r.mu.Unlock()
					var seen []string
					for _, d := range got {
						var p httpapi.WebhookPayload
						if err := json.Unmarshal(d.body, &p); err != nil {
							t.Fatalf("%s: payload: %v", name, err)
						}
						seen = append(seen, p.Message.ID)
					}
					slices.Sort(seen)
					want := slices.Clone(ids)
					slices.Sort(want)
					if !slices.Equal(seen, want) {
						t.Errorf("%s, %s: got messages %v, want each of %v once", what, name, seen, want)
					}
				}
			}
			check("every live event dropped")

			// A second API instance on the same store (a restarted or added hub) scans every
			// message from the start: it sends nothing twice, and with its peer delivers a new
			// message once.
			startEnv(t, backend{b.name, func(testing.TB) (hub.Store, notifier) { return e.hub.Store, notify.NewLocal() }},
				func(c *httpapi.Config) { c.Notify = deaf{notify.NewLocal()} })
			ids = append(ids, prov.sms(t, lease, "four"))
			check("a second instance")
		})
	}
}
