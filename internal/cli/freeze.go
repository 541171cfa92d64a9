package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/freeze"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
)

func newFreezeCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Guard the baseline freeze and cut new baseline versions",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var base, head string
	check := &cobra.Command{
		Use:   "check",
		Short: "Fail on any change of a frozen path against the baseline (freeze-guard)",
		Long: `Compares --head with the baseline and lists every frozen path that changed, with
its prohibited category (policies/governance.yaml frozen: agent contracts,
orchestrator logic, ADR compliance checks, economic safety constraints,
signature verification requirements, determinism thresholds, canonical
evidence) and the change (added, modified, deleted). Canonical evidence under
05_GOVERNANCE/ may be added, never modified or deleted, except the regenerated
OPERATIONAL_STATE.json and OPERATIONAL_STATUS.md. The baseline manifests are
frozen too.

The manifest is the highest baseline/vX.Y.json at --baseline (a pull request's
base branch, a tag or a commit id); without --baseline, the one at the highest
signed baseline/vX.Y tag, or, in a repository without tags, the one at head.
Head is diffed against the commit the manifest records and against --baseline
with tree diffs that skip identical subtrees, and the frozen files at head are
compared with the manifest's blob ids, so a shallow clone that lacks the
baseline commit is still checked.

A change request 05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.md added since the base
allows exactly the paths listed under its "## Declared paths" heading, when
head also carries the next baseline manifest (v1.0 → v1.1 or v2.0) describing
head, and the change request is G4-approved on its signed records: LARS's
approval naming head's tree (without the sign-off records) and VEGA's
recommendation to approve, verified against the registry at the base.

In GitHub Actions (GITHUB_ACTIONS=true) each violation is also an ::error
annotation on its file and the result is appended to $GITHUB_STEP_SUMMARY.
Exit 1 on any violation; 2 for a ref that does not resolve or a manifest that
fails to parse or disagrees with its commit.`,
		Example: `  vios freeze check                                   # HEAD against the current baseline
  vios freeze check --baseline origin/main --head HEAD  # a pull request (the freeze-guard check)
  vios freeze check --baseline baseline/v1.0 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			rep, err := freeze.Check(cmd.Context(), r, freeze.Options{Base: base, Head: head, Approver: g4Approver(r)})
			if err != nil {
				return err
			}
			if freeze.InActions() {
				w := g.stdout
				if g.Output == "json" {
					w = g.stderr // keep stdout valid JSON
				}
				if err := freeze.Annotate(w, rep); err != nil {
					return err
				}
				if err := freeze.AppendSummary(rep); err != nil {
					return err
				}
			}
			if err := g.emit(rep, func(w io.Writer) { printFreeze(w, rep) }); err != nil {
				return err
			}
			return rep.Err()
		},
	}
	check.Flags().StringVar(&base, "baseline", "", "baseline `REF` (branch, tag or commit; default: the highest baseline tag)")
	check.Flags().StringVar(&head, "head", "", "`REF` to check (default HEAD)")

	var version string
	cut := &cobra.Command{
		Use:   "cut",
		Short: "Cut the next baseline version: manifest and signed tag, by LARS",
		Long: `After a G4 change request merged, records the new baseline: writes
baseline/vX.Y.json with the blob id of every frozen file at HEAD and commits it
signed by LARS, then creates the annotated tag baseline/vX.Y signed with LARS's
SSH key (git verify-tag with gpg.ssh.allowedSignersFile=policies/keys/allowed_signers
accepts it). When the merged change request already brought baseline/vX.Y.json,
it must describe HEAD exactly and only the tag is made.

The version must increment the current baseline (the highest baseline tag):
v1.0 → v1.1 or v2.0; anything else exits 2.`,
		Example: `  vios freeze cut --version v1.1 --keys ~/.vios/keys
  VIOS_KEY_LARS="$(cat lars.key)" vios freeze cut --version v2.0 --repo ./governance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			lars, err := keys.Load(g.Keys, "LARS")
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			res, err := freeze.Cut(cmd.Context(), r, version, lars, clk.Now())
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				how := "manifest committed"
				if !res.Committed {
					how = "manifest brought by the change request"
				}
				fmt.Fprintf(w, "baseline %s cut after %s: %s (%d frozen files, %s), tag %s on %.12s signed by LARS\n",
					res.Version, res.Previous, res.Manifest, res.Files, how, res.Tag, res.Commit)
			})
		},
	}
	cut.Flags().StringVar(&version, "version", "", "the new baseline `VERSION`, vX.Y (required)")
	_ = cut.MarkFlagRequired("version")

	var propVersion, propHead string
	manifest := &cobra.Command{
		Use:   "manifest",
		Short: "Print the next baseline manifest a change request brings",
		Long: `Prints, as JSON, the baseline manifest of --version for --head (default HEAD):
the frozen categories of policies/governance.yaml there and the blob id of
every frozen file, with commit null. A change request commits it as
baseline/vX.Y.json on its branch after making the change; freeze check and the
G4 gate require it, and freeze cut tags it after the merge. The version must
increment the highest manifest at head (v1.0 → v1.1 or v2.0). Nothing is
written.`,
		Example: `  git switch cr/CR-0001   # the change is committed
  vios freeze manifest --version v1.1 > baseline/v1.1.json
  git add baseline/v1.1.json && git commit -m "CR-0001: baseline v1.1 manifest"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			ref := propHead
			if ref == "" {
				ref = "HEAD"
			}
			h, err := r.Git.ResolveRevision(plumbing.Revision(ref))
			if err != nil {
				return fault.Inputf("--head %q does not resolve to a commit: %v", ref, err)
			}
			m, err := freeze.Propose(r, *h, propVersion, clk.Now())
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(freeze.MarshalManifest(m))
			return err
		},
	}
	manifest.Flags().StringVar(&propVersion, "version", "", "the new baseline `VERSION`, vX.Y (required)")
	manifest.Flags().StringVar(&propHead, "head", "", "`REF` whose frozen files to record (default HEAD)")
	_ = manifest.MarkFlagRequired("version")

	cmd.AddCommand(check, cut, manifest)
	return cmd
}

// g4Approver accepts a change request on the G4 gate's signed records: a
// LARS approval naming head's content tree and a VEGA recommendation to
// approve, verified against the registry at the trusted base.
func g4Approver(r *ledger.Repo) freeze.Approver {
	return func(ctx context.Context, base, head plumbing.Hash, cr *freeze.ChangeRequest) (bool, string, error) {
		if base.IsZero() {
			return false, "no base commit in this clone to verify the sign-offs against (pass --baseline)", nil
		}
		return changereq.Approved(r, base, head, cr.ID)
	}
}

func printFreeze(w io.Writer, rep *freeze.Report) {
	commit := "not recorded"
	if rep.BaselineCommit != "" {
		commit = rep.BaselineCommit[:12]
		if !rep.CommitPresent {
			commit += " (not in this clone)"
		}
	}
	fmt.Fprintf(w, "baseline %s (%s, commit %s), head %.12s: %d frozen files checked\n", rep.Baseline, rep.Manifest, commit, rep.Head, rep.FrozenFiles)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, cr := range rep.ChangeRequests {
		state := "not approved"
		if cr.Approved {
			state = "approved"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", cr.ID, state, cr.Reason)
	}
	for _, a := range rep.Allowed {
		fmt.Fprintf(w, "  allowed  %-8s %s  [%s] by %s\n", a.Change, a.Path, freeze.Label(a.Category), a.CR)
	}
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "  VIOLATION %-8s %s  [%s] %s\n", v.Change, v.Path, freeze.Label(v.Category), v.Detail)
	}
	if rep.Passed {
		fmt.Fprintf(w, "freeze holds: no frozen path changed outside an approved change request\n")
	} else {
		fmt.Fprintf(w, "FREEZE VIOLATED: %d frozen path(s) changed\n", len(rep.Violations))
	}
}
