// Package cli is the vios command line: cobra commands that parse flags,
// call the domain packages and render results. It holds no domain logic.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/fault"
)

// Globals are the flags every command shares (DESIGN section 10).
type Globals struct {
	Repo   string
	Keys   string
	Now    string
	Output string

	stdout, stderr io.Writer
}

// clock returns the injected clock: --now pins a simulated clock (it steps
// one second per reading), otherwise the wall clock.
func (g *Globals) clock() (clock.Clock, error) {
	if g.Now == "" {
		return clock.Real{}, nil
	}
	t, err := parseTime("--now", g.Now)
	if err != nil {
		return nil, err
	}
	return clock.NewSim(t, time.Second), nil
}

func parseTime(flag, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fault.Inputf("%s %q: want an RFC 3339 time such as 2026-11-24T00:00:00Z", flag, v)
	}
	return t.UTC(), nil
}

// New builds the root command writing results to stdout and diagnostics to stderr.
func New(stdout, stderr io.Writer) *cobra.Command {
	g := &Globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "vios",
		Short: "The Vision-IoS governance pipeline: signed agent cycles on a git-native audit trail",
		Long: `vios runs the Vision-IoS production cycle (LINE, FINN, STIG, VEGA), signs every
agent operation with Ed25519, and records every artifact as a signed git commit in
a governance repository, so that git log is the audit trail and stock
git verify-commit accepts every signature.

Exit codes: 0 ok, 1 governance failure found (violation, verification failure,
halted or denied cycle), 2 usage, configuration or bad input, 3 runtime error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  vios demo                                   # the whole job on embedded defaults
  vios keys generate --keys ~/.vios/keys
  vios init ./governance --keys ~/.vios/keys
  vios cycle run --repo ./governance --keys ~/.vios/keys
  vios audit verify --repo ./governance -o json`,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case g.Output == "text" || g.Output == "json":
			case g.Output == "md" && cmd.Name() == "status":
			default:
				return fault.Inputf("-o %q: want text or json (status also takes md)", g.Output)
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fault.Inputf("%v (see `%s --help`)", err, cmd.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.Repo, "repo", ".", "governance repository `DIR`")
	pf.StringVar(&g.Keys, "keys", os.Getenv("VIOS_KEYS"), "private key `DIR` (default $VIOS_KEYS; VIOS_KEY_<AGENT> env vars take precedence)")
	pf.StringVar(&g.Now, "now", "", "override the clock with an RFC 3339 `TIME`")
	pf.StringVarP(&g.Output, "output", "o", "text", "output `FORMAT`: text or json (status: also md)")

	root.AddCommand(
		newKeysCmd(g),
		newInitCmd(g),
		newCycleCmd(g),
		newStateCmd(g),
		newAuditCmd(g),
		newReportCmd(g),
		newReplayCmd(g),
		newAttestCmd(g),
		newStatusCmd(g),
		newBriefCmd(g),
		newFreezeCmd(g),
		newCRCmd(g),
		newGitHubCmd(g),
		newSLACmd(g),
		newDeviationCmd(g),
		newServeCmd(g),
		newDemoCmd(g),
	)
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := New(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := fault.Code(err)
	if code == fault.CodeRuntime && isUsage(err) {
		code = fault.CodeInput
	}
	fmt.Fprintf(stderr, "vios: %v\n", err)
	return code
}

// isUsage recognises cobra's own argument and command errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// groupHelp serves command groups: alone they print help; an unknown
// subcommand is refused by cobra.NoArgs as a usage error (exit 2).
func groupHelp(cmd *cobra.Command, args []string) error { return cmd.Help() }
