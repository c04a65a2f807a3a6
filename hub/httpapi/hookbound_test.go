package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/notify"
)

// A hub that finds a backlog of deliveries (a restart after its peers missed their events) must
// not open a connection per delivery at once: the retry loop sends at most MaxWebhookAttempts
// at a time, like the live worker.
func TestWebhookBacklogBounded(t *testing.T) {
	const backlog = 40
	// The first instance hears no events and never scans, so the backlog builds up.
	e := startEnv(t, backends[0], func(c *httpapi.Config) {
		c.Notify = deaf{notify.NewLocal()}
		c.WebhookPollEvery = time.Hour
	})
	const number, iccid = "+4915100000013", "8949000000000000013"
	prov := e.enrol(t, e.signIn(t))
	prov.bind(t, number, iccid)
	alice := e.signIn(t)
	rental := alice.rent(t, number)
	lease := prov.waitLease(t, iccid, rental.LeaseSeq)

	var mu sync.Mutex
	inFlight, most, total := 0, 0, 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		total++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: srv.URL}, http.StatusCreated, nil)
	for i := range backlog {
		prov.sms(t, lease, "backlog "+string(rune('a'+i%26)))
	}

	// A second instance (a restarted hub) scans from the start and finds the whole backlog.
	startEnv(t, backend{"sqlite", func(testing.TB) (hub.Store, notifier) { return e.hub.Store, notify.NewLocal() }},
		func(c *httpapi.Config) { c.Notify = deaf{notify.NewLocal()} })
	// Wait until arrivals stop.
	last, quiet := -1, time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := total
		mu.Unlock()
		if n != last {
			last, quiet = n, time.Now()
		} else if n > 0 && time.Since(quiet) > 500*time.Millisecond {
			break
		}
	}
	mu.Lock()
	got := most
	mu.Unlock()
	close(release)
	if got == 0 {
		t.Fatal("no delivery attempt reached the receiver")
	}
	if got > httpapi.MaxWebhookAttempts {
		t.Fatalf("deliveries in flight at once: got %d of a backlog of %d, want at most %d", got, backlog, httpapi.MaxWebhookAttempts)
	}
}
