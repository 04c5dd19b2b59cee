package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/gatewayd/gatewayd/config"
)

// devVersion is config.Version when nobody set it at link time. It is
// repeated here (and held to config's by a test) so that a packager's
// -ldflags "-X github.com/gatewayd/gatewayd/config.Version=1.2.3" can be
// told apart from the default.
const devVersion = "0.1.0-dev"

// buildVersion says what was built, in one word: the version a packager
// linked in; else the one the go command stamped from the VCS (the tag, or
// a pseudo-version holding the commit's date and hash, "+dirty" when the
// tree had changes: go build -buildvcs=true from a git clone); else
// config.Version. Go finds no VCS in a git worktree (its .git is a file),
// hence the -ldflags route in deploy/deb/build.
func buildVersion(info *debug.BuildInfo, ok bool, linked string) string {
	if linked != devVersion {
		return linked
	}
	if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return linked
}

// versionText is what `gatewayd version` and `gatewayd --version` print:
// the version, the commit it came from when the go command recorded one,
// and the toolchain.
func versionText(info *debug.BuildInfo, ok bool, linked string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gatewayd %s\n", buildVersion(info, ok, linked))
	if ok {
		vcs := map[string]string{}
		for _, s := range info.Settings {
			vcs[s.Key] = s.Value
		}
		if rev := vcs["vcs.revision"]; rev != "" {
			fmt.Fprintf(&b, "commit %s", rev)
			if t := vcs["vcs.time"]; t != "" {
				fmt.Fprintf(&b, " %s", t)
			}
			if vcs["vcs.modified"] == "true" {
				b.WriteString(" (modified)")
			}
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// stampedVersion and stampedVersionText read this binary's build info.
func stampedVersion() string {
	info, ok := debug.ReadBuildInfo()
	return buildVersion(info, ok, config.Version)
}

func stampedVersionText() string {
	info, ok := debug.ReadBuildInfo()
	return versionText(info, ok, config.Version)
}
