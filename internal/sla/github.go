package sla

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/policy"
)

// GitHub labels the sink puts on deviation issues, besides
// "type:<deviation type>" and "severity:<severity>".
const (
	LabelDeviation = "vios-deviation"
	LabelBreached  = "sla-breached"
)

// githubSink keeps one issue per deviation: opened on the first
// notification, a comment per later one, closed on resolution.
type githubSink struct {
	owner, repo string
	base        string // API base URL with a trailing slash
	opt         SinkOptions
}

func newGitHubSink(c policy.AlertSink, opt SinkOptions) (*githubSink, error) {
	owner, repo, ok := strings.Cut(c.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("repo %q: want owner/name", c.Repo)
	}
	if c.Secret != "" {
		return nil, errors.New("takes no secret_env (the token comes from GITHUB_TOKEN)")
	}
	base := "https://api.github.com/"
	if c.URL != "" {
		u, err := httpURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("url: %v", err)
		}
		base = strings.TrimSuffix(u.String(), "/") + "/"
	}
	return &githubSink{owner: owner, repo: repo, base: base, opt: opt}, nil
}

func (s *githubSink) Name() string { return "github:" + s.owner + "/" + s.repo }

func (s *githubSink) client() (*github.Client, error) {
	token := s.opt.Getenv("GITHUB_TOKEN")
	if token == "" {
		return nil, errors.New("github: GITHUB_TOKEN is not set")
	}
	c := github.NewClient(s.opt.client()).WithAuthToken(token)
	u, err := c.BaseURL.Parse(s.base)
	if err != nil {
		return nil, fmt.Errorf("github: base URL: %w", err)
	}
	c.BaseURL = u
	return c, nil
}

// Send opens the deviation's issue (or finds it, after an ambiguous
// failure), comments on it, labels an escalation and closes it on
// resolution.
func (s *githubSink) Send(ctx context.Context, n *Notification) (Receipt, error) {
	var rc Receipt
	c, err := s.client()
	if err != nil {
		return rc, err
	}
	d := n.Deviation
	num := 0
	if n.Ref != "" {
		if num, err = strconv.Atoi(n.Ref); err != nil {
			return rc, fmt.Errorf("github: bad issue reference %q", n.Ref)
		}
	}
	if num == 0 && n.Retry {
		rc.Attempts++
		if num, err = s.find(ctx, c, d.ID); err != nil {
			return rc, err
		}
	}
	if num == 0 {
		rc.Attempts++
		iss, _, err := c.Issues.Create(ctx, s.owner, s.repo, &github.IssueRequest{
			Title:  github.String(d.ID + ": " + strings.ReplaceAll(d.Type, "_", " ") + " (" + d.Severity + ")"),
			Body:   github.String(issueBody(n)),
			Labels: &[]string{LabelDeviation, "type:" + d.Type, "severity:" + d.Severity},
		})
		if err != nil {
			return rc, s.explain("create issue", err)
		}
		num = iss.GetNumber()
		rc.Ref = strconv.Itoa(num)
		if n.Event.Type == deviation.EventAlert {
			return rc, nil // the issue is the alert
		}
	}
	rc.Ref = strconv.Itoa(num)
	rc.Attempts++
	if _, _, err := c.Issues.CreateComment(ctx, s.owner, s.repo, num, &github.IssueComment{Body: github.String(commentBody(n))}); err != nil {
		return rc, s.explain(fmt.Sprintf("comment on issue #%d", num), err)
	}
	switch n.Event.Type {
	case deviation.EventEscalated:
		rc.Attempts++
		if _, _, err := c.Issues.AddLabelsToIssue(ctx, s.owner, s.repo, num, []string{LabelBreached, "severity:" + n.Severity()}); err != nil {
			return rc, s.explain(fmt.Sprintf("label issue #%d", num), err)
		}
	case deviation.EventResolved:
		rc.Attempts++
		if _, _, err := c.Issues.Edit(ctx, s.owner, s.repo, num, &github.IssueRequest{State: github.String("closed"), StateReason: github.String("completed")}); err != nil {
			return rc, s.explain(fmt.Sprintf("close issue #%d", num), err)
		}
	}
	return rc, nil
}

// find looks for the deviation's issue among the newest labelled ones, so
// a create whose answer was lost is not repeated.
func (s *githubSink) find(ctx context.Context, c *github.Client, id string) (int, error) {
	issues, _, err := c.Issues.ListByRepo(ctx, s.owner, s.repo, &github.IssueListByRepoOptions{
		State: "all", Labels: []string{LabelDeviation}, ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return 0, s.explain("list issues", err)
	}
	for _, iss := range issues {
		if strings.HasPrefix(iss.GetTitle(), id+":") {
			return iss.GetNumber(), nil
		}
	}
	return 0, nil
}

// explain turns a GitHub API error into one line that says what to fix.
func (s *githubSink) explain(what string, err error) error {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		hint := ""
		switch er.Response.StatusCode {
		case http.StatusUnauthorized:
			hint = "; GITHUB_TOKEN is not valid"
		case http.StatusForbidden, http.StatusNotFound:
			hint = "; does GITHUB_TOKEN have issues: write on " + s.owner + "/" + s.repo + "?"
		}
		return fmt.Errorf("github: %s in %s/%s: %d %s%s", what, s.owner, s.repo, er.Response.StatusCode, er.Message, hint)
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return fmt.Errorf("github: %s in %s/%s: rate limited until %s", what, s.owner, s.repo, rl.Rate.Reset.UTC().Format("15:04:05Z"))
	}
	return fmt.Errorf("github: %s in %s/%s: %w", what, s.owner, s.repo, err)
}

func issueBody(n *Notification) string {
	d := n.Deviation
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", n.Text)
	fmt.Fprintf(&b, "| field | value |\n|---|---|\n")
	rows := [][2]string{
		{"deviation", d.ID}, {"type", d.Type}, {"severity", d.Severity}, {"action", d.Action},
		{"recipients", strings.Join(d.Recipients, ", ")}, {"detected", d.DetectedAt},
		{"root cause and plan due", d.DueAt + " (SLA " + d.SLA + ")"}, {"cycle", d.CycleID}, {"reason", d.Reason},
	}
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
		}
	}
	fmt.Fprintf(&b, "\nThe record and its history: `05_GOVERNANCE/DEVIATIONS/%s.json`. LARS resolves it with `vios deviation resolve %s --signer LARS --root-cause … --plan …`.\n", d.ID, d.ID)
	return b.String()
}

func commentBody(n *Notification) string {
	return fmt.Sprintf("**%s** (event %d, %s)\n\n%s\n", n.Event.Type, n.Index, n.Event.At, n.Text)
}
