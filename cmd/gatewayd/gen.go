package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manFiles ends gatewayd(8)'s description: where a packaged gatewayd keeps
// its files, which --help, read from a checkout as often, leaves out.
const manFiles = "\n\nFiles: /etc/gatewayd/gatewayd.yaml is the config the Debian package and " +
	"its systemd units use (gatewayd.service, gatewayd-fastcgi.socket, gatewayd-http.socket); " +
	"gatewayd check --config FILE validates it. The guides are in /usr/share/doc/gatewayd."

// genCommand is the hidden "gen" command packagers run at build time: man
// pages and shell completions generated from this very command tree, so
// they never disagree with the flags.
func genCommand(root *cobra.Command) *cobra.Command {
	gen := &cobra.Command{
		Use:    "gen",
		Short:  "Generate man pages and shell completions (for packagers)",
		Hidden: true,
	}
	gen.AddCommand(&cobra.Command{
		Use:   "man DIR",
		Short: "Write gatewayd(8) and a page per subcommand into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return genMan(root, args[0])
		},
	}, &cobra.Command{
		Use:   "completion DIR",
		Short: "Write bash, zsh and fish completions into DIR/{bash,zsh,fish}",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return genCompletion(root, args[0])
		},
	})
	return gen
}

// genMan writes section 8 pages (gatewayd is a daemon). The date comes
// from SOURCE_DATE_EPOCH when set, so package builds are reproducible.
func genMan(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen man: %w", err)
	}
	root.DisableAutoGenTag = true
	escapeLong(root)
	root.Long += manFiles
	header := &doc.GenManHeader{
		Section: "8",
		Source:  "gatewayd " + stampedVersion(),
		Manual:  "System Manager's Manual",
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("gen man %s: %w", dir, err)
	}
	return nil
}

// genCompletion writes each shell's completion under the name its loader
// looks for, in the layout of /usr/share/{bash-completion/completions,
// zsh/vendor-completions,fish/vendor_completions.d}.
func genCompletion(root *cobra.Command, dir string) error {
	for _, c := range []struct {
		path string
		gen  func(string) error
	}{
		{filepath.Join(dir, "bash", "gatewayd"), func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{filepath.Join(dir, "zsh", "_gatewayd"), root.GenZshCompletionFile},
		{filepath.Join(dir, "fish", "gatewayd.fish"), func(p string) error { return root.GenFishCompletionFile(p, true) }},
	} {
		if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
			return fmt.Errorf("gen completion: %w", err)
		}
		if err := c.gen(c.path); err != nil {
			return fmt.Errorf("gen completion %s: %w", c.path, err)
		}
	}
	return nil
}

// markdownSpecials are the characters cobra/doc's markdown renderer would
// take for markup in help text written as plain text: GATEWAYD_LOG_LEVEL's
// underscores for emphasis, <KEY> for an HTML tag.
var markdownSpecials = strings.NewReplacer(`\`, `\\`, "_", `\_`, "*", `\*`, "<", `\<`, ">", `\>`,
	"[", `\[`, "]", `\]`, "`", "\\`")

// escapeLong makes every command's long help, plain text for --help, come
// out of the man page as written.
func escapeLong(c *cobra.Command) {
	c.Long = markdownSpecials.Replace(c.Long)
	for _, sub := range c.Commands() {
		escapeLong(sub)
	}
}
