package version

import "testing"

func TestStringOverride(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9"
	if got := String(); got != "v9.9.9" {
		t.Fatalf("String() with Version set = %q, want %q", got, "v9.9.9")
	}
	Version = ""
	if got := String(); got == "" {
		t.Fatal("String() without Version = empty, want a build-info derived value")
	}
}
