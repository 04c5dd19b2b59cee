package main

import (
	"runtime/debug"

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

// stampedVersion is buildVersion of this binary.
func stampedVersion() string {
	info, ok := debug.ReadBuildInfo()
	return buildVersion(info, ok, config.Version)
}
