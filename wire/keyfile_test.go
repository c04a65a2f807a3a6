package wire

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeyFileWriteRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.key")
	id := seedIdentity(t, 0x11)
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := WriteKeyFile(p, id, KindAgent, "board-1", created); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if got := st.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode: got %04o, want 0600", got)
	}
	k, err := ReadKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if k.Identity == nil || k.Identity.Verify != id.Verify || k.Public != id.Public || k.Kind != KindAgent ||
		k.Name != "board-1" || !k.Created.Equal(created) {
		t.Fatalf("ReadKeyFile: got %+v", k)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory after atomic write: got %d entries, want 1 (no temp files left)", len(entries))
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(p, mode)
		if _, err := ReadKeyFile(p); !errors.Is(err, ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: got %v, want ErrKeyFileMode with a chmod 600 hint", mode, err)
		}
	}
	// A public-only file may be world readable.
	pub, _ := MarshalPublicKeyFile(id.Verify, id.Public, KindRenter, "")
	pp := filepath.Join(dir, "peer.pub")
	os.WriteFile(pp, pub, 0o644)
	k, err = ReadKeyFile(pp)
	if err != nil || k.Identity != nil || k.Public != id.Public {
		t.Fatalf("public key file: got %+v, %v", k, err)
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	id := seedIdentity(t, 0x11)
	good, _ := MarshalKeyFile(id, KindAgent, "", time.Time{})
	other := seedIdentity(t, 0x12)
	edit := func(k string, v any) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"wrong format", edit("format", "pem"), "field format"},
		{"future version", edit("version", 2), "field version"},
		{"verify mismatch", edit("verify", other.Verify.String()), "field verify: does not match"},
		{"public mismatch", edit("public", other.Public.String()), "field public: does not match"},
		{"agent id mismatch", edit("agent_id", other.AgentID()), "field agent_id"},
		{"short private", edit("private", "AAAA"), "private"},
		{"unknown field", edit("passphrase", "x"), `"passphrase"`},
		{"public-only without public", edit("private", nil), ""},
		{"not json", []byte("-----BEGIN"), "bad JSON"},
	}
	for _, c := range cases {
		_, err := ParseKeyFile(c.in)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: got %v, want success", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestImportPrivatenessKeyFiles(t *testing.T) {
	// Layouts of PrivatenessTools NessKeys/keys/{User,Users,Node}.py, with the §8 vector keys.
	const priv, pub, verify = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=", "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
	user := `{"filedata":{"vendor":"Privateness","type":"key","for":"user"},"username":"alice","private":"` + priv +
		`","public":"` + pub + `","verify":"` + verify + `","nonce":"AAECAwQFBgcICQoLDA0ODw==","signatures":{},"worm":"<worm>…</worm>"}`
	users := `{"filedata":{"vendor":"Privateness","type":"key","for":"user"},"current":"alice","users":{"alice":{"username":"alice","private":"` + priv +
		`","public":"` + pub + `","verify":"` + verify + `","nonce":"AAECAwQFBgcICQoLDA0ODw==","signatures":{},"tags":[]}}}`
	node := `{"filedata":{"vendor":"Privateness","type":"key","for":"node"},"keys":{"private":"` + priv + `","public":"` + pub +
		`","verify":"` + verify + `"},"url":"http://my-ness-node.net","nonce":"x","master-user":"alice","services":["prng"],"tariff":10.0}`
	for _, c := range []struct{ name, in, source, who string }{
		{"user", user, "privateness-user", "alice"},
		{"users", users, "privateness-users", "alice"},
		{"node", node, "privateness-node", "http://my-ness-node.net"},
	} {
		k, err := ParseKeyFile([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if k.Identity == nil || k.Verify.String() != verify || k.Public.String() != pub || k.Source != c.source || k.Name != c.who {
			t.Errorf("%s: got %+v", c.name, k)
		}
	}
	bad := strings.Replace(users, `"public":"`+pub, `"public":"`+verify, 1)
	if _, err := ParseKeyFile([]byte(bad)); err == nil || !strings.Contains(err.Error(), "users.alice.public") {
		t.Errorf("users file with a wrong public key: got %v, want an error naming users.alice.public", err)
	}
	if _, err := ParseKeyFile([]byte(strings.Replace(users, `"current":"alice"`, `"current":"bob"`, 1))); err == nil || !strings.Contains(err.Error(), "current") {
		t.Errorf("users file with a missing current user: got %v", err)
	}
	if _, err := ParseKeyFile([]byte(strings.Replace(user, `"for":"user"`, `"for":"nodes"`, 1))); err == nil {
		t.Error("nodes list file: got no error")
	}
}
