package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
)

// gitTokenEnv authenticates HTTPS pushes (as for `cycle run --push`);
// GITHUB_TOKEN is the fallback.
const gitTokenEnv = "VIOS_GIT_TOKEN"

// githubFlags select the GitHub API and repository.
type githubFlags struct {
	api, repo string
}

func (f *githubFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.api, "github-api", "", "GitHub REST API root `URL` (default $GITHUB_API_URL, else https://api.github.com; Enterprise: https://HOST/api/v3)")
	cmd.Flags().StringVar(&f.repo, "github-repo", "", "GitHub repository `OWNER/NAME` (default $GITHUB_REPOSITORY, else derived from the remote's URL)")
}

// client returns a go-github client; the repository falls back to the
// named remote's URL. The token comes from GITHUB_TOKEN only.
func (f *githubFlags) client(r *ledger.Repo, remote string) (*ghub.GitHub, error) {
	cfg := ghub.ConfigFromEnv(f.api, f.repo)
	if cfg.Repo == "" && r != nil && remote != "" {
		if u, err := changereq.RemoteURL(r, remote); err == nil {
			cfg.Repo, _ = ghub.RepoFromRemote(u)
		}
	}
	return ghub.New(cfg)
}

func pushToken() string {
	if t := strings.TrimSpace(os.Getenv(gitTokenEnv)); t != "" {
		return t
	}
	return strings.TrimSpace(os.Getenv(ghub.EnvToken))
}

func newCRCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cr",
		Short: "G4 change requests: open, approve, recommend, gate",
		Long: `A change request is the only way to change frozen content (policies, the
registry, canonical evidence): a branch cr/CR-NNNN carrying
05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.md, the change itself and the next
baseline manifest, approved by LARS and recommended by VEGA in signed records,
and judged by the G4 gate. One change request per pull request.`,
		Args: cobra.NoArgs,
		RunE: groupHelp,
	}
	cmd.AddCommand(newCRNewCmd(g), newCRSignOffCmd(g, true), newCRSignOffCmd(g, false), newCRGateCmd(g))
	return cmd
}

func newCRNewCmd(g *Globals) *cobra.Command {
	var (
		title, rationale, rationaleFile, remote, base string
		categories, impacts, paths                    []string
		major, push, openPR                           bool
		gf                                            githubFlags
	)
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Open a change request on its own branch, signed by CODE",
		Long: `Creates branch cr/CR-NNNN at HEAD (the next number not used by any document or
cr/ branch, local or remote) and commits 05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.md
on it, signed by CODE: title, rationale, one ADR impact analysis per touched
category (--category, from policies/governance.yaml frozen), the declared paths
(--path; default: the categories' exact paths), the requested baseline version
(the next minor, or --major) and where VEGA's recommendation will be recorded.
HEAD and the worktree are not touched: switch to the branch to make the change.

The document is canonical evidence and is never edited once committed, so the
rationale and every impact analysis are given now.

--push pushes the branch with go-git to --remote (HTTPS auth: $VIOS_GIT_TOKEN
or $GITHUB_TOKEN); --open-pr also opens the pull request into --base (default:
HEAD's branch) through the GitHub API, labelled change-request and G4.`,
		Example: `  vios cr new --title "Raise the per-summary ceiling" \
    --category economic_safety_constraints \
    --rationale "The new model's summaries cost more per token." \
    --impact economic_safety_constraints="ADR-012: ceiling 0.050 -> 0.060; the daily cap is unchanged." \
    --keys ~/.vios/keys
  vios cr new --title "New FINN contract" --category agent_contracts --path policies/agents/finn.yaml \
    --rationale-file why.md --impact agent_contracts="FINN gains compute_volatility" --major --push --open-pr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rationaleFile != "" {
				if rationale != "" {
					return fault.Inputf("cr new: --rationale or --rationale-file, not both")
				}
				data, err := os.ReadFile(rationaleFile)
				if err != nil {
					return fault.Inputf("cr new: --rationale-file: %v", err)
				}
				rationale = string(data)
			}
			impact := map[string]string{}
			for _, kv := range impacts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fault.Inputf("cr new: --impact %q: want CATEGORY=TEXT", kv)
				}
				k = strings.TrimSpace(k)
				if _, dup := impact[k]; dup {
					return fault.Inputf("cr new: --impact %s given twice", k)
				}
				impact[k] = v
			}
			push = push || openPR
			clk, err := g.clock()
			if err != nil {
				return err
			}
			code, err := keys.Load(g.Keys, "CODE")
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			var gh *ghub.GitHub
			if openPR { // configuration errors before anything is written
				if gh, err = gf.client(r, remote); err != nil {
					return fmt.Errorf("cr new --open-pr: %w", err)
				}
				if base == "" {
					br, err := r.Branch()
					if err != nil {
						return fault.Inputf("cr new --open-pr: %v (give --base)", err)
					}
					base = br.Short()
				}
			}
			res, err := changereq.New(cmd.Context(), r, changereq.NewOptions{
				Title: title, Rationale: rationale, Categories: categories, Impact: impact, Paths: paths,
				Major: major, Signer: code, Now: clk.Now(),
			})
			if err != nil {
				return err
			}
			out := struct {
				*changereq.NewResult
				Pushed      bool              `json:"pushed"`
				PullRequest *ghub.PullRequest `json:"pull_request,omitempty"`
			}{NewResult: res}
			var stepErr error
			if push {
				if stepErr = changereq.Push(cmd.Context(), r, remote, changereq.Branch(res.ID), pushToken()); stepErr == nil {
					out.Pushed = true
				}
			}
			if stepErr == nil && openPR {
				out.PullRequest, stepErr = changereq.OpenPullRequest(cmd.Context(), gh, res, base)
			}
			if err := g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "opened %s on branch %s (commit %s, signed by CODE), requesting baseline %s after %s\n",
					res.ID, res.Branch, res.Commit[:12], res.Document.Version, res.Baseline)
				fmt.Fprintf(w, "  document:       %s\n  declared paths: %s\n", res.Path, strings.Join(res.Document.Paths, ", "))
				if out.Pushed {
					fmt.Fprintf(w, "  pushed to %s\n", remote)
				}
				if out.PullRequest != nil {
					fmt.Fprintf(w, "  pull request #%d %s\n", out.PullRequest.Number, out.PullRequest.URL)
				}
				if !out.Pushed {
					fmt.Fprintf(w, "next: git switch %s, make the change and add %s, then vios cr recommend / cr approve\n",
						res.Branch, changereq.ManifestPath(mustVersion(res.Document.Version)))
				}
			}); err != nil {
				return err
			}
			if stepErr != nil {
				return fmt.Errorf("%s was opened locally, but: %w", res.ID, stepErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "one-line `TITLE` (required)")
	f.StringVar(&rationale, "rationale", "", "why the change is needed (`TEXT`)")
	f.StringVar(&rationaleFile, "rationale-file", "", "read the rationale from `FILE`")
	f.StringSliceVar(&categories, "category", nil, "frozen `CATEGORY` the change touches (repeatable or comma-separated)")
	f.StringArrayVar(&impacts, "impact", nil, "ADR impact analysis of a category, `CATEGORY=TEXT` (one per --category)")
	f.StringArrayVar(&paths, "path", nil, "declared frozen `PATH` (repeatable; default: the categories' exact paths)")
	f.BoolVar(&major, "major", false, "request the next major version (v2.0) instead of the next minor (v1.1)")
	f.BoolVar(&push, "push", false, "push the branch to --remote")
	f.BoolVar(&openPR, "open-pr", false, "push and open the pull request (needs $GITHUB_TOKEN)")
	f.StringVar(&remote, "remote", "origin", "git remote `NAME` to push to")
	f.StringVar(&base, "base", "", "`BRANCH` the pull request targets (default: HEAD's branch)")
	gf.register(cmd)
	return cmd
}

func mustVersion(s string) changereq.Version {
	v, _ := changereq.ParseVersion(s)
	return v
}

// newCRSignOffCmd builds `cr approve` (LARS) or `cr recommend` (VEGA).
func newCRSignOffCmd(g *Globals, approve bool) *cobra.Command {
	var signer, verdict, note, remote string
	var push bool
	cmd := &cobra.Command{
		Use:   "approve CR-NNNN",
		Short: "Commit LARS's signed approval of a change request's current tree",
		Long: `Commits 05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.approval.LARS.json on branch
cr/CR-NNNN (it need not be checked out): the change request id, the tree it
approves (the branch tip's tree without the sign-off records), the commit, the
requested version and an Ed25519 signature by LARS over the record's canonical
JSON, in a commit signed with LARS's SSH key. Only LARS approves, with the
registry's ACTIVE LARS key, and only a complete document. The approval binds
to that tree: any later change to the branch makes it stale, and approving
again adds CR-NNNN.approval.LARS.2.json (records are never edited).
Approving an unchanged tree again does nothing.`,
		Example: `  vios cr approve CR-0001 --signer LARS --keys ~/.vios/keys
  vios cr approve CR-0001 --signer LARS --note "reviewed with VEGA" --push`,
		Args: cobra.ExactArgs(1),
	}
	if !approve {
		cmd.Use = "recommend CR-NNNN"
		cmd.Short = "Commit VEGA's signed recommendation (approve or reject) on a change request"
		cmd.Long = `Commits 05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.recommendation.VEGA.json on branch
cr/CR-NNNN: VEGA's verdict (--verdict approve|reject), the tree it saw, and
VEGA's Ed25519 signature over the record's canonical JSON, in a commit signed
with VEGA's SSH key. The G4 gate needs VEGA's latest recommendation to be
approve. A later recommendation is a new numbered record; the document is not
edited (it is canonical evidence).`
		cmd.Example = `  vios cr recommend CR-0001 --signer VEGA --verdict approve --keys ~/.vios/keys
  vios cr recommend CR-0001 --signer VEGA --verdict reject --note "raises ADR-012 risk"`
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		want := map[bool]string{true: "LARS", false: "VEGA"}[approve]
		if signer != want {
			return fault.Inputf("%s: --signer must be %s", cmd.CommandPath(), want)
		}
		if _, err := changereq.ParseID(args[0]); err != nil {
			return err
		}
		clk, err := g.clock()
		if err != nil {
			return err
		}
		s, err := keys.Load(g.Keys, signer)
		if err != nil {
			return err
		}
		r, err := ledger.Open(g.Repo)
		if err != nil {
			return err
		}
		defer r.Close()
		opt := changereq.SignOffOptions{ID: args[0], Signer: s, Verdict: verdict, Note: note, Now: clk.Now()}
		var res *changereq.SignOffResult
		if approve {
			res, err = changereq.Approve(cmd.Context(), r, opt)
		} else {
			res, err = changereq.Recommend(cmd.Context(), r, opt)
		}
		if err != nil {
			return err
		}
		var pushErr error
		if push {
			pushErr = changereq.Push(cmd.Context(), r, remote, changereq.Branch(args[0]), pushToken())
		}
		if err := g.emit(res, func(w io.Writer) {
			what := "approved by LARS"
			if !approve {
				what = "VEGA recommends " + res.Record.Verdict
			}
			if res.Already {
				fmt.Fprintf(w, "%s: already %s for tree %s (%s); nothing committed\n", args[0], what, res.Record.Tree[:12], res.Path)
				return
			}
			fmt.Fprintf(w, "%s: %s for tree %s\n  record: %s\n  commit: %s on %s, signed by %s\n", args[0], what, res.Record.Tree[:12], res.Path, res.Commit[:12], res.Branch, signer)
		}); err != nil {
			return err
		}
		return pushErr
	}
	f := cmd.Flags()
	f.StringVar(&signer, "signer", "", map[bool]string{true: "the approving agent: LARS", false: "the recommending agent: VEGA"}[approve])
	if !approve {
		f.StringVar(&verdict, "verdict", "", "approve or reject (required)")
	}
	f.StringVar(&note, "note", "", "a one-line note recorded with the signature")
	f.BoolVar(&push, "push", false, "push the branch to --remote afterwards")
	f.StringVar(&remote, "remote", "origin", "git remote `NAME` to push to")
	return cmd
}

func newCRGateCmd(g *Globals) *cobra.Command {
	var (
		pr         int
		base, head string
		postStatus bool
		targetURL  string
		remote     string
		gf         githubFlags
	)
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "The required check `G4 gate`: judge a pull request against the G4 rules",
		Long: `Judges a change against the G4 rules and prints each rule's verdict:
  one-change-request   exactly one CR per pull request (no batching), opened by it
  declared-paths       the frozen paths changed are all declared by the CR
  complete-document    every section of CR-NNNN.md is present and filled
  lars-approval        LARS approved the exact head: a GitHub review APPROVED by a
                       login listed under reviewers: LARS in policies/governance.yaml
                       on the head commit (older ones are stale; a later
                       CHANGES_REQUESTED or a dismissal cancels it; unknown logins
                       do not count), and/or a LARS-signed record naming the head tree
  vega-recommendation  VEGA's latest signed recommendation is approve
  version-increment    a new baseline/vX.Y.json for the next version (v1.0 -> v1.1 or v2.0)
A change with no change request and no frozen path passes (G4 does not apply).
The policy, the LARS logins and the registry that verifies the records are the
base's, never the change's own.

--pr N reads the pull request, its files and reviews from GitHub ($GITHUB_TOKEN;
the head and base commits must be in the local clone: fetch-depth 0). Offline,
--base REF --head REF judge local commits on the signed records alone.
--post-status sets the commit status "G4 gate" on the head (success or failure,
the failing rule in the description). In GitHub Actions failures are also
::error annotations and a table in $GITHUB_STEP_SUMMARY.
Exit 0 when the gate passes, 1 when a rule fails, 2 on bad input or a GitHub
answer naming a configuration problem (401/403/404/422), 3 when GitHub is down or
rate-limited. Without a posted status the required check stays pending: the
merge is blocked, never allowed by default.`,
		Example: `  vios cr gate --pr 42 --post-status                    # in the g4-gate workflow
  vios cr gate --base main --head cr/CR-0001            # offline, signed records only
  GITHUB_API_URL=https://ghe.example.com/api/v3 vios cr gate --pr 42 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case pr < 0:
				return fault.Inputf("cr gate: --pr %d: want a pull request number", pr)
			case pr > 0 && (base != "" || head != ""):
				return fault.Inputf("cr gate: give --pr N, or --base REF and --head REF, not both")
			case pr == 0 && (base == "" || head == ""):
				return fault.Inputf("cr gate: give --pr N, or --base REF and --head REF")
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			var gh *ghub.GitHub
			if pr > 0 || postStatus {
				if gh, err = gf.client(r, remote); err != nil {
					return fmt.Errorf("cr gate: %w", err)
				}
			}
			in := changereq.Input{Repo: r}
			if pr > 0 {
				in.GitHub, in.PR = gh, pr
			} else {
				if in.Base, err = changereq.Resolve(r, base); err != nil {
					return fmt.Errorf("cr gate --base: %w", err)
				}
				if in.Head, err = changereq.Resolve(r, head); err != nil {
					return fmt.Errorf("cr gate --head: %w", err)
				}
			}
			res, err := changereq.Gate(cmd.Context(), in)
			if err != nil {
				return err
			}
			if ghub.InActions() {
				w := g.stdout
				if g.Output == "json" {
					w = g.stderr // keep stdout valid JSON
				}
				for _, rule := range res.Failed() {
					if !rule.Skipped {
						fmt.Fprint(w, ghub.Annotation("error", "G4 gate: "+rule.Name, rule.Reason))
					}
				}
				if err := ghub.AppendStepSummary(gateMarkdown(res)); err != nil {
					fmt.Fprintf(g.stderr, "vios: %v\n", err)
				}
			}
			if err := g.emit(res, func(w io.Writer) { printGate(w, res) }); err != nil {
				return err
			}
			if postStatus {
				if targetURL == "" {
					targetURL = ghub.RunURL()
				}
				st := ghub.Status{State: ghub.StateFailure, Context: changereq.StatusContext, Description: res.Summary(), TargetURL: targetURL}
				if res.Passed {
					st.State = ghub.StateSuccess
				}
				if err := gh.SetStatus(cmd.Context(), res.Head, st); err != nil {
					return err
				}
			}
			if !res.Passed {
				return fault.Governancef("G4 gate failed: %d of %d rules did not pass", len(res.Failed()), len(res.Rules))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&pr, "pr", 0, "pull request `NUMBER` to judge (reads GitHub)")
	f.StringVar(&base, "base", "", "base `REF` (offline: a branch, tag or commit)")
	f.StringVar(&head, "head", "", "head `REF` (offline)")
	f.BoolVar(&postStatus, "post-status", false, `set the commit status "G4 gate" on the head (needs $GITHUB_TOKEN)`)
	f.StringVar(&targetURL, "target-url", "", "`URL` the status links to (default in Actions: this workflow run)")
	f.StringVar(&remote, "remote", "origin", "git remote `NAME` whose URL names the GitHub repository when --github-repo and $GITHUB_REPOSITORY are unset")
	gf.register(cmd)
	return cmd
}

func printGate(w io.Writer, res *changereq.Result) {
	verdict := "PASS"
	if !res.Passed {
		verdict = "FAIL"
	}
	what := "local commits (offline: signed records only)"
	if res.Mode == changereq.ModeGitHub {
		what = fmt.Sprintf("pull request #%d", res.PR)
	}
	cr := res.ChangeRequest
	if cr == "" {
		cr = "no change request"
	}
	fmt.Fprintf(w, "G4 gate %s: %s, %s, head %s, base %s\n", verdict, what, cr, shortHex(res.Head), shortHex(res.Base))
	for _, r := range res.Rules {
		mark := "PASS"
		switch {
		case r.Skipped:
			mark = "SKIP"
		case !r.Passed:
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-20s %s\n", mark, r.Name, r.Reason)
	}
}

func shortHex(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func gateMarkdown(res *changereq.Result) string {
	var b strings.Builder
	verdict := "passed"
	if !res.Passed {
		verdict = "failed"
	}
	fmt.Fprintf(&b, "### G4 gate %s\n\n", verdict)
	if res.ChangeRequest != "" {
		fmt.Fprintf(&b, "Change request **%s**, head `%s`.\n\n", res.ChangeRequest, shortHex(res.Head))
	}
	b.WriteString("| rule | result | reason |\n|---|---|---|\n")
	for _, r := range res.Rules {
		mark := "✅ pass"
		switch {
		case r.Skipped:
			mark = "⏭ skipped"
		case !r.Passed:
			mark = "❌ fail"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, mark, ghub.MarkdownCell(r.Reason))
	}
	b.WriteString("\n")
	return b.String()
}
