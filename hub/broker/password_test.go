package broker_test

import (
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/hub/broker"
)

func TestHashPassword(t *testing.T) {
	pw, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) != 43 {
		t.Errorf("NewPassword length: got %d, want 43", len(pw))
	}
	if other, _ := broker.NewPassword(); other == pw {
		t.Errorf("NewPassword twice: got the same password")
	}
	h1, err := broker.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := broker.HashPassword(pw)
	if h1 == h2 {
		t.Errorf("HashPassword twice: got the same hash, want different salts")
	}
	if !strings.HasPrefix(h1, "$7$101$") {
		t.Errorf("HashPassword: got %q, want $7$101$…", h1)
	}
	for _, h := range []string{h1, h2} {
		if !broker.CheckPassword(h, pw) {
			t.Errorf("CheckPassword(%q, right password): got false", h)
		}
		if broker.CheckPassword(h, pw[:42]) {
			t.Errorf("CheckPassword(%q, wrong password): got true", h)
		}
	}
	if _, err := broker.HashPassword(""); err == nil {
		t.Errorf("HashPassword(\"\"): got nil error")
	}
}

func TestCheckPasswordOldFormat(t *testing.T) {
	// Mosquitto 1.x "$6$": base64(salt) and base64(SHA-512(password || salt)).
	salt := []byte("0123456789ab")
	sum := sha512.Sum512(append([]byte("secret"), salt...))
	h := "$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(sum[:])
	if !broker.CheckPassword(h, "secret") {
		t.Errorf("CheckPassword($6$ hash, right password): got false")
	}
	if broker.CheckPassword(h, "Secret") {
		t.Errorf("CheckPassword($6$ hash, wrong password): got true")
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good, _ := broker.HashPassword("pw")
	parts := strings.Split(good, "$")
	for _, c := range []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "pw"},
		{"unknown kind", "$5$" + parts[3] + "$" + parts[4]},
		{"iterations not a number", "$7$ten$" + parts[3] + "$" + parts[4]},
		{"zero iterations", "$7$0$" + parts[3] + "$" + parts[4]},
		{"absurd iterations", "$7$2000000000$" + parts[3] + "$" + parts[4]},
		{"salt not base64", "$7$101$!!!$" + parts[4]},
		{"hash too short", "$7$101$" + parts[3] + "$AAAA"},
		{"missing field", "$7$101$" + parts[3]},
		{"extra field", good + "$x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if broker.CheckPassword(c.hash, "pw") {
				t.Errorf("CheckPassword(%q): got true, want false", c.hash)
			}
			if err := broker.ValidHash(c.hash); err == nil {
				t.Errorf("ValidHash(%q): got nil error", c.hash)
			}
		})
	}
	if !broker.CheckPassword(good, "pw") || broker.ValidHash(good) != nil {
		t.Errorf("the unmodified hash must check")
	}
	if broker.CheckPassword(good, "") {
		t.Errorf("CheckPassword with an empty password: got true")
	}
}

func TestMosquittoFilesRefuseBadInput(t *testing.T) {
	h, _ := broker.HashPassword("pw")
	for _, c := range []struct {
		name  string
		creds []broker.Credential
	}{
		{"colon in username", []broker.Credential{{Username: "a:b", PasswordHash: h}}},
		{"newline in username", []broker.Credential{{Username: "a\nb", PasswordHash: h}}},
		{"wildcard in username", []broker.Credential{{Username: "a+", PasswordHash: h}}},
		{"empty username", []broker.Credential{{Username: "", PasswordHash: h}}},
		{"plain password", []broker.Credential{{Username: "a", PasswordHash: "pw"}}},
		{"duplicate", []broker.Credential{{Username: "a", PasswordHash: h}, {Username: "a", PasswordHash: h}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := broker.MosquittoPasswordFile(c.creds); err == nil {
				t.Errorf("MosquittoPasswordFile: got nil error")
			}
		})
	}
	got, err := broker.MosquittoPasswordFile([]broker.Credential{{Username: "b", PasswordHash: h}, {Username: "a", PasswordHash: h}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a:" + h + "\nb:" + h + "\n"; string(got) != want {
		t.Errorf("MosquittoPasswordFile: got %q, want %q", got, want)
	}
	if _, err := broker.MosquittoACL("hub/#"); err == nil {
		t.Errorf("MosquittoACL with a wildcard hub user: got nil error")
	}
	if _, err := broker.MosquittoConf(broker.MosquittoOptions{PasswordFile: "p", ACLFile: "a"}); err == nil {
		t.Errorf("MosquittoConf without listeners: got nil error")
	}
	if _, err := broker.MosquittoConf(broker.MosquittoOptions{PasswordFile: "p\nallow_anonymous true", ACLFile: "a",
		Listeners: []broker.MosquittoListener{{Port: 1883}}}); err == nil {
		t.Errorf("MosquittoConf with a line break in a path: got nil error")
	}
}
