package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/ledger"
)

// freezeGuardCheck is the required check of the freeze-guard workflow.
const freezeGuardCheck = "freeze-guard"

func newGitHubCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Configure the GitHub repository that hosts the governance branch",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var (
		branch, remote        string
		approvals             int
		enforceAdmins, strict bool
		gf                    githubFlags
	)
	protect := &cobra.Command{
		Use:   "protect",
		Short: "Protect a branch: freeze-guard and G4 gate required, reviews, signed commits",
		Long: `Configures branch protection through the GitHub API (the token needs admin
rights on the repository):
  - required status checks "freeze-guard" and "G4 gate" (with --strict, the
    branch must be up to date before merging, so the checks judged the merge);
  - a required pull request review (--approvals, default 1) and stale
    approvals dismissed when new commits are pushed;
  - required signed commits;
  - with --enforce-admins, administrators too.
It replaces the branch's protection settings and prints what GitHub reports
as in force. Scheduled cycles that push evidence straight to the protected
branch need an identity allowed to bypass these rules (leave --enforce-admins
off and push as an administrator or a bypass-listed app), or a separate
evidence branch.`,
		Example: `  GITHUB_TOKEN=ghp_... vios github protect --github-repo vision-ios/governance
  vios github protect --branch main --approvals 2 --enforce-admins -o json
  vios github protect --github-api https://ghe.example.com/api/v3 --github-repo ops/governance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(branch) == "" || strings.ContainsAny(branch, " \t\n") {
				return fault.Inputf("github protect: --branch %q: want a branch name", branch)
			}
			if approvals < 1 || approvals > 6 {
				return fault.Inputf("github protect: --approvals %d: GitHub accepts 1 to 6", approvals)
			}
			var r *ledger.Repo
			if gf.repo == "" {
				if opened, err := ledger.Open(g.Repo); err == nil {
					r = opened
					defer r.Close()
				}
			}
			gh, err := gf.client(r, remote)
			if err != nil {
				return fmt.Errorf("github protect: %w", err)
			}
			want := ghub.Protection{
				Branch:              strings.TrimPrefix(branch, "refs/heads/"),
				Checks:              []string{freezeGuardCheck, changereq.StatusContext},
				Strict:              strict,
				RequiredApprovals:   approvals,
				DismissStaleReviews: true,
				SignedCommits:       true,
				EnforceAdmins:       enforceAdmins,
			}
			got, err := gh.ProtectBranch(cmd.Context(), want)
			if err != nil {
				return err
			}
			out := struct {
				Repo string `json:"repo"`
				*ghub.Protection
			}{gh.Repo(), got}
			if err := g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "protected %s on %s\n", got.Branch, gh.Repo())
				fmt.Fprintf(w, "  required checks:  %s (up to date before merging: %v)\n", strings.Join(got.Checks, ", "), got.Strict)
				fmt.Fprintf(w, "  required reviews: %d, stale approvals dismissed: %v\n", got.RequiredApprovals, got.DismissStaleReviews)
				fmt.Fprintf(w, "  signed commits:   %v\n  enforce admins:   %v\n", got.SignedCommits, got.EnforceAdmins)
			}); err != nil {
				return err
			}
			return checkProtection(want, got)
		},
	}
	f := protect.Flags()
	f.StringVar(&branch, "branch", "main", "`BRANCH` to protect")
	f.IntVar(&approvals, "approvals", 1, "required approving reviews (1-6)")
	f.BoolVar(&enforceAdmins, "enforce-admins", false, "apply the rules to administrators too")
	f.BoolVar(&strict, "strict", true, "require the branch to be up to date before merging")
	f.StringVar(&remote, "remote", "origin", "git remote `NAME` whose URL names the GitHub repository when --github-repo and $GITHUB_REPOSITORY are unset")
	gf.register(protect)
	cmd.AddCommand(protect)
	return cmd
}

// checkProtection fails when GitHub reports less than was asked for.
func checkProtection(want ghub.Protection, got *ghub.Protection) error {
	var missing []string
	for _, c := range want.Checks {
		found := false
		for _, h := range got.Checks {
			found = found || h == c
		}
		if !found {
			missing = append(missing, "required check "+c)
		}
	}
	if got.RequiredApprovals < want.RequiredApprovals {
		missing = append(missing, fmt.Sprintf("%d required reviews", want.RequiredApprovals))
	}
	if want.DismissStaleReviews && !got.DismissStaleReviews {
		missing = append(missing, "dismissal of stale reviews")
	}
	if want.SignedCommits && !got.SignedCommits {
		missing = append(missing, "signed commits")
	}
	if want.EnforceAdmins && !got.EnforceAdmins {
		missing = append(missing, "enforcement for admins")
	}
	if len(missing) > 0 {
		return fmt.Errorf("github protect: GitHub does not report %s in force on %s", strings.Join(missing, ", "), want.Branch)
	}
	return nil
}
