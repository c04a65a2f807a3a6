package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	to, other := seedIdentity(t, 1), seedIdentity(t, 2)
	msg := []byte("hello from a SIM card")
	box, err := Seal(to.Public, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(box), len(msg)+SealOverhead; got != want {
		t.Fatalf("sealed length: got %d, want %d", got, want)
	}
	got, err := to.Open(box)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open: got %q, %v; want %q", got, err, msg)
	}
	if _, err := other.Open(box); !errors.Is(err, ErrOpen) {
		t.Fatalf("Open with the wrong key: got %v, want ErrOpen", err)
	}
	for i := 0; i < len(box)*8; i++ {
		bad := bytes.Clone(box)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := to.Open(bad); err == nil {
			t.Fatalf("Open after flipping bit %d: got no error", i)
		}
	}
	for n := 0; n < len(box); n++ {
		if _, err := to.Open(box[:n]); err == nil {
			t.Fatalf("Open of the first %d bytes: got no error", n)
		}
	}
	if _, err := Seal(SealKey{}, msg); err == nil {
		t.Fatal("Seal to the zero key: got no error")
	}
}
