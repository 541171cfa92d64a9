// Package ghub is vios's window on the GitHub REST API. The G4 gate and the
// change-request commands ask the small Client interface for what they need
// (a pull request's head and base, the files it changes, its reviews; post a
// commit status, protect a branch, open a pull request, label it); GitHub
// implements it with go-github, and tests serve the gate's logic with a
// plain struct fake.
//
// Every answer GitHub gives that is not a success becomes an error naming
// its cause — a rejected token, a missing permission, an unknown pull
// request, a refused request, an exhausted rate limit, an outage — marked
// with the exit code vios documents (2 for authentication and configuration
// problems, 3 for outages and rate limits). Nothing here ever turns a
// failure into a passing answer.
package ghub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// Client is what vios asks of GitHub for one repository.
type Client interface {
	// PullRequest returns a pull request's head and base.
	PullRequest(ctx context.Context, number int) (*PullRequest, error)
	// PullRequestFiles lists every file a pull request changes (all pages).
	PullRequestFiles(ctx context.Context, number int) ([]File, error)
	// Reviews lists every review of a pull request (all pages), oldest first.
	Reviews(ctx context.Context, number int) ([]Review, error)
	// SetStatus posts a commit status on sha.
	SetStatus(ctx context.Context, sha string, s Status) error
	// ProtectBranch configures branch protection and returns what GitHub
	// reports as in force afterwards.
	ProtectBranch(ctx context.Context, p Protection) (*Protection, error)
	// CreatePullRequest opens a pull request.
	CreatePullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error)
	// AddLabels adds labels to a pull request (or issue).
	AddLabels(ctx context.Context, number int, labels ...string) error
}

// PullRequest is the part of a pull request the gate reads.
type PullRequest struct {
	Number  int    `json:"number"`
	Title   string `json:"title"`
	State   string `json:"state"`
	URL     string `json:"url"`
	HeadSHA string `json:"head_sha"`
	HeadRef string `json:"head_ref"`
	BaseSHA string `json:"base_sha"`
	BaseRef string `json:"base_ref"`
}

// File statuses GitHub reports for a changed file.
const (
	FileAdded    = "added"
	FileRemoved  = "removed"
	FileModified = "modified"
	FileRenamed  = "renamed"
	FileCopied   = "copied"
	FileChanged  = "changed"
)

// File is one file a pull request changes.
type File struct {
	Path         string `json:"path"`
	Status       string `json:"status"`
	PreviousPath string `json:"previous_path,omitempty"` // renamed files
}

// Review states GitHub reports.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewCommented        = "COMMENTED"
	ReviewDismissed        = "DISMISSED"
	ReviewPending          = "PENDING"
)

// Review is one pull request review.
type Review struct {
	ID          int64     `json:"id"`
	Login       string    `json:"login"`
	State       string    `json:"state"`
	CommitID    string    `json:"commit_id"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Commit status states.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// MaxDescription is the longest description GitHub accepts on a commit status.
const MaxDescription = 140

// Status is a commit status.
type Status struct {
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url,omitempty"`
}

// Protection is the branch protection vios configures.
type Protection struct {
	Branch              string   `json:"branch"`
	Checks              []string `json:"required_status_checks"`
	Strict              bool     `json:"strict"` // the branch must be up to date before merging
	RequiredApprovals   int      `json:"required_approving_review_count"`
	DismissStaleReviews bool     `json:"dismiss_stale_reviews"`
	SignedCommits       bool     `json:"required_signatures"`
	EnforceAdmins       bool     `json:"enforce_admins"`
}

// NewPullRequest is a pull request to open.
type NewPullRequest struct {
	Title string
	Head  string // branch name
	Base  string // branch name
	Body  string
	Draft bool
}

// Errors callers branch on; each is wrapped with the operation and
// GitHub's own message.
var (
	ErrNoToken      = errors.New("no GitHub token (set GITHUB_TOKEN)")
	ErrNoRepo       = errors.New("no GitHub repository (set --github-repo owner/name or GITHUB_REPOSITORY)")
	ErrUnauthorized = errors.New("GitHub rejected the token")
	ErrForbidden    = errors.New("the token is not allowed to do this")
	ErrNotFound     = errors.New("not found on GitHub")
	ErrInvalid      = errors.New("GitHub refused the request")
	ErrRateLimited  = errors.New("GitHub rate limit exceeded")
	ErrUnavailable  = errors.New("GitHub is unavailable")
)

// Config says which GitHub and repository to talk to.
type Config struct {
	Token   string        // GITHUB_TOKEN
	APIURL  string        // REST API root; default https://api.github.com/ (GitHub Enterprise: https://HOST/api/v3/)
	Repo    string        // owner/name
	Timeout time.Duration // per request; default 30s
}

// Environment variables Config reads.
const (
	EnvToken  = "GITHUB_TOKEN"
	EnvAPIURL = "GITHUB_API_URL"
	EnvRepo   = "GITHUB_REPOSITORY"
)

// DefaultAPIURL is the REST API root of github.com.
const DefaultAPIURL = "https://api.github.com/"

// ConfigFromEnv builds a Config from flags, falling back to GITHUB_TOKEN,
// GITHUB_API_URL and GITHUB_REPOSITORY (what GitHub Actions sets).
func ConfigFromEnv(apiURL, repo string) Config {
	c := Config{Token: strings.TrimSpace(os.Getenv(EnvToken)), APIURL: apiURL, Repo: repo}
	if c.APIURL == "" {
		c.APIURL = os.Getenv(EnvAPIURL)
	}
	if c.Repo == "" {
		c.Repo = os.Getenv(EnvRepo)
	}
	return c
}

// repoRe is compiled on first use: its bounded repeats make a deep
// program, costly to build at every start of the binary.
var repoRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
})

// SplitRepo checks an owner/name repository and returns its parts.
func SplitRepo(repo string) (owner, name string, err error) {
	if repo == "" {
		return "", "", fault.Input(ErrNoRepo)
	}
	if !repoRe().MatchString(repo) || strings.HasSuffix(repo, "/.") || strings.HasSuffix(repo, "/..") {
		return "", "", fault.Inputf("github repository %q: want owner/name", repo)
	}
	owner, name, _ = strings.Cut(repo, "/")
	return owner, name, nil
}

// apiRoot parses and normalises the API root URL (trailing slash).
func apiRoot(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fault.Inputf("github api url %q: want an http(s) URL such as %s or https://github.example.com/api/v3", raw, DefaultAPIURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// RepoFromRemote derives owner/name from a git remote URL on host
// (https://HOST/owner/name.git, git@HOST:owner/name.git, ssh://git@HOST/owner/name).
func RepoFromRemote(remoteURL string) (string, bool) {
	s := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(remoteURL), "/"), ".git")
	var p string
	switch {
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh") {
			return "", false
		}
		p = strings.TrimPrefix(u.Path, "/")
	case strings.Contains(s, "@") && strings.Contains(s, ":"):
		_, p, _ = strings.Cut(s, ":")
	default:
		return "", false
	}
	if _, _, err := SplitRepo(p); err != nil {
		return "", false
	}
	return p, true
}

// Truncate shortens a status description to GitHub's limit, on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// opError formats one API failure: "github get pull request #7 (o/r): cause: detail".
func opError(op, repo string, sentinel error, detail string) error {
	if detail != "" {
		return fmt.Errorf("github %s (%s): %w: %s", op, repo, sentinel, detail)
	}
	return fmt.Errorf("github %s (%s): %w", op, repo, sentinel)
}
