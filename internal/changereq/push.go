package changereq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/ledger"
)

// RemoteURL returns the first URL of a configured remote.
func RemoteURL(r *ledger.Repo, remote string) (string, error) {
	rm, err := r.Git.Remote(remote)
	if err != nil {
		if errors.Is(err, git.ErrRemoteNotFound) {
			return "", fault.Inputf("remote %q is not configured (git remote add %s URL)", remote, remote)
		}
		return "", fmt.Errorf("remote %s: %w", remote, err)
	}
	if urls := rm.Config().URLs; len(urls) > 0 {
		return urls[0], nil
	}
	return "", fault.Inputf("remote %q has no URL", remote)
}

// Push pushes branch to remote with go-git (no force: a branch that moved
// on the remote is refused). token, when set, authenticates HTTPS remotes
// the way GitHub Actions does (x-access-token).
func Push(ctx context.Context, r *ledger.Repo, remote string, branch plumbing.ReferenceName, token string) error {
	url, err := RemoteURL(r, remote)
	if err != nil {
		return err
	}
	// A fresh handle: packs written by this process since r was opened are
	// then all visible to go-git's packer.
	dir := r.Root()
	if dir == "" {
		dir = r.GitDir()
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return fmt.Errorf("push: open %s: %w", dir, err)
	}
	var auth transport.AuthMethod
	if token != "" && (strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) {
		auth = &githttp.BasicAuth{Username: "x-access-token", Password: token}
	}
	spec := config.RefSpec(branch.String() + ":" + branch.String())
	err = repo.PushContext(ctx, &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: auth})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("push %s to %s: %w", branch.Short(), remote, ctx.Err())
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fault.Inputf("push %s to %s: %v (set %s or configure credentials)", branch.Short(), remote, err, ghub.EnvToken)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fault.Inputf("push %s to %s: %v", branch.Short(), remote, err)
	case errors.Is(err, git.ErrNonFastForwardUpdate) || strings.Contains(err.Error(), "non-fast-forward"):
		return fault.Inputf("push %s to %s: the remote branch has commits this one lacks (fetch and rebuild the branch)", branch.Short(), remote)
	}
	return fmt.Errorf("push %s to %s: %w", branch.Short(), remote, err)
}

// OpenPullRequest opens the change request's pull request from its branch
// into base and labels it change-request and G4. A pull request opened but
// not labelled is reported with the error.
func OpenPullRequest(ctx context.Context, gh ghub.Client, res *NewResult, base string) (*ghub.PullRequest, error) {
	pr, err := gh.CreatePullRequest(ctx, ghub.NewPullRequest{
		Title: fmt.Sprintf("%s: %s", res.ID, res.Document.Title),
		Head:  res.Branch,
		Base:  base,
		Body:  string(res.Document.Markdown()),
	})
	if err != nil {
		return nil, err
	}
	if err := gh.AddLabels(ctx, pr.Number, LabelChangeRequest, LabelG4); err != nil {
		return pr, fmt.Errorf("pull request #%d opened, but labelling it failed: %w", pr.Number, err)
	}
	return pr, nil
}
