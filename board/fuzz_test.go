package board_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ness-network/ness-sms/board"
)

// FuzzLoad feeds outside bytes to the profile decoder: it must never panic,
// and whatever it accepts must be valid and load back unchanged.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("profiles/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(validProfile))
	f.Add([]byte(`{"name":"x","slots":[{"power_key":{}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := board.Load(bytes.NewReader(b))
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Load accepted a profile Validate rejects: %v", err)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := board.Load(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-load of %s: %v", out, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip: got %+v, want %+v", q, p)
		}
	})
}
