package ghub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/vision-ios/vios/internal/fault"
)

// GitHub implements Client with go-github for one repository.
type GitHub struct {
	gh          *github.Client
	owner, name string
	repo        string
}

var _ Client = (*GitHub)(nil)

// perPage is the page size asked for on list endpoints (GitHub's maximum).
const perPage = 100

// maxPages bounds pagination: GitHub lists at most 3,000 files per pull
// request, and a link header that never ends must not loop forever.
const maxPages = 100

// New returns a GitHub client for cfg. A missing token, a malformed
// repository or API URL is a configuration error (exit 2).
func New(cfg Config) (*GitHub, error) {
	if cfg.Token == "" {
		return nil, fault.Input(ErrNoToken)
	}
	owner, name, err := SplitRepo(cfg.Repo)
	if err != nil {
		return nil, err
	}
	root, err := apiRoot(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	gh := github.NewClient(&http.Client{Timeout: timeout}).WithAuthToken(cfg.Token)
	gh.BaseURL = root
	gh.UploadURL = root
	gh.UserAgent = "vios"
	return &GitHub{gh: gh, owner: owner, name: name, repo: cfg.Repo}, nil
}

// Repo returns the owner/name the client works on.
func (g *GitHub) Repo() string { return g.repo }

// PullRequest implements Client.
func (g *GitHub) PullRequest(ctx context.Context, number int) (*PullRequest, error) {
	op := fmt.Sprintf("get pull request #%d", number)
	pr, _, err := g.gh.PullRequests.Get(ctx, g.owner, g.name, number)
	if err != nil {
		return nil, g.fail(ctx, op, err)
	}
	out := convertPR(pr)
	if out.HeadSHA == "" || out.BaseSHA == "" {
		return nil, opError(op, g.repo, ErrUnavailable, "the answer has no head or base commit")
	}
	return out, nil
}

func convertPR(pr *github.PullRequest) *PullRequest {
	return &PullRequest{
		Number:  pr.GetNumber(),
		Title:   pr.GetTitle(),
		State:   pr.GetState(),
		URL:     pr.GetHTMLURL(),
		HeadSHA: pr.GetHead().GetSHA(),
		HeadRef: pr.GetHead().GetRef(),
		BaseSHA: pr.GetBase().GetSHA(),
		BaseRef: pr.GetBase().GetRef(),
	}
}

// PullRequestFiles implements Client, following every page.
func (g *GitHub) PullRequestFiles(ctx context.Context, number int) ([]File, error) {
	op := fmt.Sprintf("list files of pull request #%d", number)
	var out []File
	opt := &github.ListOptions{PerPage: perPage}
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return nil, opError(op, g.repo, ErrUnavailable, fmt.Sprintf("more than %d pages", maxPages))
		}
		files, resp, err := g.gh.PullRequests.ListFiles(ctx, g.owner, g.name, number, opt)
		if err != nil {
			return nil, g.fail(ctx, op, err)
		}
		for _, f := range files {
			if f.GetFilename() == "" {
				return nil, opError(op, g.repo, ErrUnavailable, "a file without a name in the answer")
			}
			out = append(out, File{Path: f.GetFilename(), Status: f.GetStatus(), PreviousPath: f.GetPreviousFilename()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// Reviews implements Client, following every page; reviews come back in
// submission order (pending reviews, which have no submission time, last).
func (g *GitHub) Reviews(ctx context.Context, number int) ([]Review, error) {
	op := fmt.Sprintf("list reviews of pull request #%d", number)
	var out []Review
	opt := &github.ListOptions{PerPage: perPage}
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return nil, opError(op, g.repo, ErrUnavailable, fmt.Sprintf("more than %d pages", maxPages))
		}
		reviews, resp, err := g.gh.PullRequests.ListReviews(ctx, g.owner, g.name, number, opt)
		if err != nil {
			return nil, g.fail(ctx, op, err)
		}
		for _, r := range reviews {
			out = append(out, Review{
				ID:          r.GetID(),
				Login:       r.GetUser().GetLogin(),
				State:       r.GetState(),
				CommitID:    r.GetCommitID(),
				SubmittedAt: r.GetSubmittedAt().Time,
			})
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	SortReviews(out)
	return out, nil
}

// SortReviews orders reviews by submission time, then id; reviews never
// submitted (pending) go last.
func SortReviews(rs []Review) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.SubmittedAt.IsZero() != b.SubmittedAt.IsZero() {
			return b.SubmittedAt.IsZero()
		}
		if !a.SubmittedAt.Equal(b.SubmittedAt) {
			return a.SubmittedAt.Before(b.SubmittedAt)
		}
		return a.ID < b.ID
	})
}

// SetStatus implements Client.
func (g *GitHub) SetStatus(ctx context.Context, sha string, s Status) error {
	op := fmt.Sprintf("set status %q on %s", s.Context, shortSHA(sha))
	switch s.State {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return fault.Inputf("github %s: state %q: want pending, success, failure or error", op, s.State)
	}
	st := &github.RepoStatus{
		State:       github.String(s.State),
		Context:     github.String(s.Context),
		Description: github.String(Truncate(s.Description, MaxDescription)),
	}
	if s.TargetURL != "" {
		st.TargetURL = github.String(s.TargetURL)
	}
	if _, _, err := g.gh.Repositories.CreateStatus(ctx, g.owner, g.name, sha, st); err != nil {
		return g.fail(ctx, op, err)
	}
	return nil
}

// ProtectBranch implements Client: one PUT of the protection (required
// checks, reviews, admins), then, if asked, the required-signatures switch
// (GitHub keeps it behind its own endpoint). It needs an admin token.
func (g *GitHub) ProtectBranch(ctx context.Context, p Protection) (*Protection, error) {
	op := fmt.Sprintf("protect branch %s", p.Branch)
	if p.Branch == "" {
		return nil, fault.Inputf("github %s: no branch", op)
	}
	checks := make([]*github.RequiredStatusCheck, 0, len(p.Checks))
	for _, c := range p.Checks {
		checks = append(checks, &github.RequiredStatusCheck{Context: c})
	}
	req := &github.ProtectionRequest{
		RequiredStatusChecks: &github.RequiredStatusChecks{Strict: p.Strict, Checks: &checks},
		EnforceAdmins:        p.EnforceAdmins,
	}
	if p.RequiredApprovals > 0 {
		req.RequiredPullRequestReviews = &github.PullRequestReviewsEnforcementRequest{
			DismissStaleReviews:          p.DismissStaleReviews,
			RequiredApprovingReviewCount: p.RequiredApprovals,
		}
	}
	got, _, err := g.gh.Repositories.UpdateBranchProtection(ctx, g.owner, g.name, p.Branch, req)
	if err != nil {
		return nil, g.fail(ctx, op, err)
	}
	out := &Protection{Branch: p.Branch, EnforceAdmins: got.GetEnforceAdmins().Enabled}
	if rs := got.GetRequiredStatusChecks(); rs != nil {
		out.Strict = rs.Strict
		if rs.Checks != nil {
			for _, c := range *rs.Checks {
				out.Checks = append(out.Checks, c.Context)
			}
		} else if rs.Contexts != nil {
			out.Checks = append(out.Checks, *rs.Contexts...)
		}
	}
	if rv := got.GetRequiredPullRequestReviews(); rv != nil {
		out.RequiredApprovals = rv.RequiredApprovingReviewCount
		out.DismissStaleReviews = rv.DismissStaleReviews
	}
	out.SignedCommits = got.GetRequiredSignatures().GetEnabled()
	if p.SignedCommits {
		sig, _, err := g.gh.Repositories.RequireSignaturesOnProtectedBranch(ctx, g.owner, g.name, p.Branch)
		if err != nil {
			return nil, fmt.Errorf("protection of %s is set, but requiring signed commits failed: %w", p.Branch, g.fail(ctx, "require signed commits on "+p.Branch, err))
		}
		out.SignedCommits = sig.GetEnabled()
		if !out.SignedCommits {
			return nil, opError("require signed commits on "+p.Branch, g.repo, ErrUnavailable, "GitHub answered enabled=false")
		}
	}
	return out, nil
}

// CreatePullRequest implements Client.
func (g *GitHub) CreatePullRequest(ctx context.Context, n NewPullRequest) (*PullRequest, error) {
	op := fmt.Sprintf("open pull request %s -> %s", n.Head, n.Base)
	req := &github.NewPullRequest{
		Title:               github.String(n.Title),
		Head:                github.String(n.Head),
		Base:                github.String(n.Base),
		Body:                github.String(n.Body),
		MaintainerCanModify: github.Bool(false),
	}
	if n.Draft {
		req.Draft = github.Bool(true)
	}
	pr, _, err := g.gh.PullRequests.Create(ctx, g.owner, g.name, req)
	if err != nil {
		return nil, g.fail(ctx, op, err)
	}
	return convertPR(pr), nil
}

// AddLabels implements Client.
func (g *GitHub) AddLabels(ctx context.Context, number int, labels ...string) error {
	op := fmt.Sprintf("label pull request #%d %s", number, strings.Join(labels, ", "))
	if _, _, err := g.gh.Issues.AddLabelsToIssue(ctx, g.owner, g.name, number, labels); err != nil {
		return g.fail(ctx, op, err)
	}
	return nil
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// fail maps a go-github error to a vios error naming the cause: 401, 403,
// 404 and 422 are exit 2 (the token, its permissions or the request are
// wrong); rate limits, 5xx and transport failures are exit 3.
func (g *GitHub) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("github %s: %w", op, ctx.Err())
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		detail := oneLine(rl.Message)
		if !rl.Rate.Reset.IsZero() {
			detail += " (resets at " + rl.Rate.Reset.UTC().Format(time.RFC3339) + ")"
		}
		return opError(op, g.repo, ErrRateLimited, detail)
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		detail := "secondary rate limit: " + abuse.Message
		if abuse.RetryAfter != nil {
			detail += fmt.Sprintf(" (retry after %s)", abuse.RetryAfter)
		}
		return opError(op, g.repo, ErrRateLimited, detail)
	}
	var accepted *github.AcceptedError
	if errors.As(err, &accepted) {
		return opError(op, g.repo, ErrUnavailable, "GitHub is still computing the answer (202); try again")
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		detail := fmt.Sprintf("%d %s", code, describe(er))
		switch code {
		case http.StatusUnauthorized:
			return fault.Input(opError(op, g.repo, ErrUnauthorized, detail+"; check "+EnvToken))
		case http.StatusForbidden:
			return fault.Input(opError(op, g.repo, ErrForbidden, detail+"; check the token's permissions on "+g.repo))
		case http.StatusNotFound:
			return fault.Input(opError(op, g.repo, ErrNotFound, detail+"; check the repository, number or branch, and that the token can see "+g.repo))
		case http.StatusUnprocessableEntity:
			return fault.Input(opError(op, g.repo, ErrInvalid, detail))
		case http.StatusTooManyRequests:
			return opError(op, g.repo, ErrRateLimited, detail)
		}
		return opError(op, g.repo, ErrUnavailable, detail)
	}
	return opError(op, g.repo, ErrUnavailable, oneLine(err.Error()))
}

// describe renders GitHub's message and its validation errors on one line.
func describe(er *github.ErrorResponse) string {
	msg := er.Message
	if msg == "" {
		msg = http.StatusText(er.Response.StatusCode)
	}
	var parts []string
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Field != "":
			parts = append(parts, fmt.Sprintf("%s %s %s", e.Resource, e.Field, e.Code))
		case e.Code != "":
			parts = append(parts, e.Code)
		}
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return oneLine(msg)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
