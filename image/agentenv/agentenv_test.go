package agentenv

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// settings returns the NESS_AGENT_* names a template shows, in order.
func settings(text string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^#?(NESS_AGENT_[A-Z0-9_]+)=`).FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	return names
}

func TestSameVariables(t *testing.T) {
	for name, text := range map[string]string{"Image": Image(), "Deb": Deb()} {
		if got := settings(text); !reflect.DeepEqual(got, Names()) {
			t.Errorf("%s(): got the settings %q, want %q", name, got, Names())
		}
		if strings.Contains(text, "\r") || !strings.HasSuffix(text, "\n") {
			t.Errorf("%s(): want LF line ends and a final newline", name)
		}
	}
	if !strings.Contains(Image(), "#NESS_AGENT_DATA_DIR=/perm/ness-agent\n") || !strings.Contains(Deb(), "#NESS_AGENT_DATA_DIR=/var/lib/ness-agent\n") {
		t.Error("data directory defaults: want /perm/ness-agent in the image, /var/lib/ness-agent in the package")
	}
	if strings.Contains(Deb(), "NESS_NTP") || !strings.Contains(Image(), "#NESS_NTP_WAIT=20s\n") {
		t.Error("ness-init's board settings belong to the image's file only")
	}
}
