package httpapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/hub/notify"
)

// TestOpenAPI: the embedded document is docs/openapi.json byte for byte, and it documents every
// route the server has, with its method.
func TestOpenAPI(t *testing.T) {
	docs, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, OpenAPI) {
		t.Fatal("hub/httpapi/openapi.json differs from docs/openapi.json: cp docs/openapi.json hub/httpapi/")
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v (version %q), want an OpenAPI 3 document", err, doc.OpenAPI)
	}
	s, err := New(Config{Store: nopStore{}, Leases: nopLeases{}, Notify: notify.NewLocal(), Origin: "https://x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // the catch-all
		}
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in openapi.json", p)
		}
	}
}
