package httpapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/httpapi"
)

func TestCheckPlainHTTP(t *testing.T) {
	tests := []struct {
		addr  string
		allow bool
		ok    bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"0.0.0.0:8080", false, false},
		{":8080", false, false},
		{"192.168.1.5:8080", false, false},
		{"0.0.0.0:8080", true, true},
	}
	for _, tc := range tests {
		err := httpapi.CheckPlainHTTP(tc.addr, tc.allow)
		if (err == nil) != tc.ok {
			t.Errorf("CheckPlainHTTP(%q, %v): got %v, want ok=%v", tc.addr, tc.allow, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "NESS_HUB_TLS_CERT") {
			t.Errorf("CheckPlainHTTP(%q): message %q does not say how to fix it", tc.addr, err)
		}
	}
}

// TestDevCert: a client trusting only the dev CA reaches a server using the dev certificate.
func TestDevCert(t *testing.T) {
	dir := t.TempDir()
	f, err := httpapi.DevCert(dir, []string{"hub.local"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(f.Key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: mode %v, %v; want 0600", f.Key, st.Mode(), err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	ts.StartTLS()
	defer ts.Close()
	caPEM, _ := os.ReadFile(f.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	for _, trust := range []*x509.CertPool{pool, x509.NewCertPool()} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust}}}
		resp, err := c.Get(strings.Replace(ts.URL, "127.0.0.1", "localhost", 1))
		if trust == pool && err != nil {
			t.Errorf("client trusting the dev CA: %v", err)
		}
		if trust != pool && err == nil {
			t.Errorf("client trusting nothing: connected, want a certificate error")
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}
