// Package version reports the build's version string for every NESS SMS binary.
//
// The release builder sets Version with -ldflags "-X .../internal/version.Version=v1.2.3";
// otherwise it comes from the module and VCS information Go embeds at build time.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is set at link time by build.sh; empty means "read it from the build info".
var Version string

// String returns the version of the running binary, e.g. "v0.1.0", "devel+1a2b3c4d-dirty" or "devel".
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel+" + strings.TrimSpace(rev) + dirty
}
