package deb

import (
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 2, 48, 0, 0, time.UTC)
	tests := []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3-4-gabcdef0", "1.2.3+4.gabcdef0"},
		{"v0.9.0-12-g3721ff4-dirty", "0.9.0+12.g3721ff4.dirty"},
		{"3721ff4-dirty", "0~git20261128024800.3721ff4.dirty"},
		{"d33956d", "0~git20261128024800.d33956d"},
		{"", "0~git20261128024800.devel"},
	}
	for _, tt := range tests {
		if got := DebVersion(tt.in, epoch); got != tt.want {
			t.Errorf("DebVersion(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
