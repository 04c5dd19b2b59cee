package fcgiupstream

// target is what a PATH_INFO resolves to (docroot.Target, in this
// package's names).
type target struct {
	// script is the script's name under the root ("info.php",
	// "blog/index.php"), empty when there is none.
	script string
	// pathInfo is the rest of PATH_INFO after the script ("/extra/path").
	pathInfo string
	// status, when not 0, is the answer instead of running a script:
	// 301 (redirect to dir+"/"), 400, 403 (not a script), 404.
	status int
	// dir is the directory to redirect to, for 301.
	dir string
	// file reports a regular file that is not a script (403 or Files).
	file bool
}

// resolve finds the script for pathInfo with docroot's lookup, which
// `gatewayd request --root` and `gatewayd explain` share, through the
// route's lookup cache. Dotfiles are 403 unless Config.AllowDotfiles (the
// dotfiles key), as in the static app.
func (u *Upstream) resolve(pathInfo string) target {
	t := u.lookups.Resolve(pathInfo)
	return target{script: t.Script, pathInfo: t.PathInfo, status: t.Status, dir: t.Dir, file: t.File}
}
