package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ness-network/ness-sms/hub/httpapi"
)

// A stream lives for hours: revoking its token (a stolen token, a logout) must end it, not just
// refuse new requests. The same holds for a token that expires while its stream is open.
func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.StreamPollInterval = 50 * time.Millisecond })
	const number, iccid = "+4915100000012", "8949000000000000012"
	prov := e.enrol(t, e.signIn(t))
	prov.bind(t, number, iccid)
	alice := e.signIn(t)
	rental := alice.rent(t, number)
	lease := prov.waitLease(t, iccid, rental.LeaseSeq)

	ws, err := alice.stream(t, "")
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer ws.CloseNow()
	id1 := prov.sms(t, lease, "before")
	if ev, err := next(t, ws, 10*time.Second); err != nil || ev.Message == nil || ev.Message.ID != id1 {
		t.Fatalf("stream before revocation: got %+v, %v; want message %s", ev, err, id1)
	}
	alice.do(t, "DELETE", "/v1/auth/token", nil, http.StatusNoContent, nil)
	id2 := prov.sms(t, lease, "after")
	ev, err := next(t, ws, 5*time.Second)
	if err == nil {
		t.Fatalf("stream after its token was revoked: got %+v (message %s sent after), want the stream closed", ev, id2)
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Fatalf("stream after its token was revoked: got %v (close status %d), want close status %d", err, got, websocket.StatusPolicyViolation)
	}
}
