package ghub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/fault"
)

// The fake GitHub serves the REST API under /api/v3/ (a GitHub Enterprise
// root) for repository vision-ios/governance, the way go-github's own tests
// do: a mux on an httptest server, payloads shaped like GitHub's.
const (
	testToken = "ghs_testtoken0123456789"
	testRepo  = "vision-ios/governance"
	repoPath  = "/api/v3/repos/vision-ios/governance"
	headSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	baseSHA   = "9049f1265b7d61be4a8904a9a27120d2064dab3b"
)

func setup(t *testing.T) (*GitHub, *http.ServeMux, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	gh, err := New(Config{Token: testToken, APIURL: srv.URL + "/api/v3", Repo: testRepo, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return gh, mux, srv.URL
}

// checkRequest asserts the method, the token and the headers go-github sends.
func checkRequest(t *testing.T, r *http.Request, method string) {
	t.Helper()
	if r.Method != method {
		t.Errorf("%s %s, want %s", r.Method, r.URL.Path, method)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != "vios" {
		t.Errorf("User-Agent = %q", got)
	}
}

func readJSON(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
		t.Errorf("request body: %v", err)
	}
	return v
}

const pullRequestJSON = `{
  "url": "https://api.github.com/repos/vision-ios/governance/pulls/7",
  "id": 1296269,
  "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
  "html_url": "https://github.com/vision-ios/governance/pull/7",
  "diff_url": "https://github.com/vision-ios/governance/pull/7.diff",
  "number": 7,
  "state": "open",
  "locked": false,
  "title": "CR-0001: Raise the per-summary ceiling",
  "user": {"login": "vios-bot", "id": 1, "type": "Bot", "site_admin": false},
  "body": "# CR-0001: Raise the per-summary ceiling",
  "labels": [{"id": 208045946, "name": "change-request", "color": "f29513", "default": false}],
  "created_at": "2026-11-02T09:00:00Z",
  "updated_at": "2026-11-02T10:00:00Z",
  "merged_at": null,
  "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
  "draft": false,
  "head": {
    "label": "vision-ios:cr/CR-0001",
    "ref": "cr/CR-0001",
    "sha": "` + headSHA + `",
    "user": {"login": "vision-ios", "id": 2, "type": "Organization"},
    "repo": {"id": 1296269, "name": "governance", "full_name": "vision-ios/governance", "private": true}
  },
  "base": {
    "label": "vision-ios:main",
    "ref": "main",
    "sha": "` + baseSHA + `",
    "user": {"login": "vision-ios", "id": 2, "type": "Organization"},
    "repo": {"id": 1296269, "name": "governance", "full_name": "vision-ios/governance", "private": true}
  },
  "author_association": "MEMBER",
  "merged": false,
  "mergeable": true,
  "mergeable_state": "blocked",
  "comments": 0,
  "commits": 4,
  "additions": 120,
  "deletions": 1,
  "changed_files": 4
}`

func TestPullRequest(t *testing.T) {
	gh, mux, _ := setup(t)
	mux.HandleFunc(repoPath+"/pulls/7", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodGet)
		if got := r.Header.Get("Accept"); got != "application/vnd.github.v3+json" {
			t.Errorf("Accept = %q", got)
		}
		fmt.Fprint(w, pullRequestJSON)
	})
	pr, err := gh.PullRequest(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := &PullRequest{Number: 7, Title: "CR-0001: Raise the per-summary ceiling", State: "open", URL: "https://github.com/vision-ios/governance/pull/7",
		HeadSHA: headSHA, HeadRef: "cr/CR-0001", BaseSHA: baseSHA, BaseRef: "main"}
	if diff := cmp.Diff(want, pr); diff != "" {
		t.Fatalf("pull request (-want +got):\n%s", diff)
	}
}

func fileJSON(name, status, prev string) string {
	extra := ""
	if prev != "" {
		extra = fmt.Sprintf(`, "previous_filename": %q`, prev)
	}
	return fmt.Sprintf(`{"sha": "bbcd538c8e72b8c175046e27cc8f907076331401", "filename": %q, "status": %q, "additions": 1, "deletions": 1, "changes": 2,
	  "blob_url": "https://github.com/vision-ios/governance/blob/%s/%s", "raw_url": "https://github.com/vision-ios/governance/raw/%s/%s",
	  "contents_url": "https://api.github.com/repos/vision-ios/governance/contents/%s?ref=%s", "patch": "@@ -1 +1 @@"%s}`,
		name, status, headSHA, name, headSHA, name, name, headSHA, extra)
}

// link renders GitHub's Link header for page of last.
func link(base string, page, last int) string {
	var parts []string
	u := func(p int) string { return fmt.Sprintf("<%s?per_page=100&page=%d>", base, p) }
	if page < last {
		parts = append(parts, u(page+1)+`; rel="next"`, u(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, u(1)+`; rel="first"`, u(page-1)+`; rel="prev"`)
	}
	return strings.Join(parts, ", ")
}

func TestPullRequestFilesFollowsPages(t *testing.T) {
	gh, mux, url := setup(t)
	pages := [][]string{
		{fileJSON("policies/economics.yaml", "modified", ""), fileJSON("05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.md", "added", "")},
		{fileJSON("baseline/v1.1.json", "added", ""), fileJSON("docs/new-name.md", "renamed", "docs/old-name.md")},
		{fileJSON("policies/old.yaml", "removed", "")},
	}
	var seen []string
	mux.HandleFunc(repoPath+"/pulls/7/files", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodGet)
		q := r.URL.Query()
		seen = append(seen, q.Get("page"))
		if q.Get("per_page") != "100" {
			t.Errorf("per_page = %q", q.Get("per_page"))
		}
		page := 1
		if p := q.Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		if l := link(url+repoPath+"/pulls/7/files", page, len(pages)); l != "" {
			w.Header().Set("Link", l)
		}
		fmt.Fprint(w, "["+strings.Join(pages[page-1], ",")+"]")
	})
	files, err := gh.PullRequestFiles(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "policies/economics.yaml", Status: "modified"},
		{Path: "05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.md", Status: "added"},
		{Path: "baseline/v1.1.json", Status: "added"},
		{Path: "docs/new-name.md", Status: "renamed", PreviousPath: "docs/old-name.md"},
		{Path: "policies/old.yaml", Status: "removed"},
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", "2", "3"}, seen); diff != "" {
		t.Fatalf("pages requested (-want +got):\n%s", diff)
	}
}

func reviewJSON(id int, login, state, commit, at string) string {
	submitted := "null"
	if at != "" {
		submitted = strconv.Quote(at)
	}
	return fmt.Sprintf(`{"id": %d, "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=", "user": {"login": %q, "id": %d, "type": "User", "site_admin": false},
	  "body": "Here is the body for the review.", "state": %q,
	  "html_url": "https://github.com/vision-ios/governance/pull/7#pullrequestreview-%d",
	  "pull_request_url": "https://api.github.com/repos/vision-ios/governance/pulls/7",
	  "_links": {"html": {"href": "https://github.com/vision-ios/governance/pull/7#pullrequestreview-%d"}, "pull_request": {"href": "https://api.github.com/repos/vision-ios/governance/pulls/7"}},
	  "submitted_at": %s, "commit_id": %q, "author_association": "COLLABORATOR"}`, id, login, id, state, id, id, submitted, commit)
}

func TestReviewsFollowsPagesInSubmissionOrder(t *testing.T) {
	gh, mux, url := setup(t)
	pages := [][]string{
		{reviewJSON(80, "lars-bot", "APPROVED", baseSHA, "2026-11-02T10:00:00Z"), reviewJSON(95, "lars-bot", "PENDING", headSHA, "")},
		{reviewJSON(81, "mallory", "APPROVED", headSHA, "2026-11-02T09:00:00Z"), reviewJSON(82, "lars-bot", "CHANGES_REQUESTED", headSHA, "2026-11-02T11:00:00Z")},
	}
	mux.HandleFunc(repoPath+"/pulls/7/reviews", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodGet)
		page := 1
		if p := r.URL.Query().Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		if l := link(url+repoPath+"/pulls/7/reviews", page, len(pages)); l != "" {
			w.Header().Set("Link", l)
		}
		fmt.Fprint(w, "["+strings.Join(pages[page-1], ",")+"]")
	})
	rs, err := gh.Reviews(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	want := []Review{
		{ID: 81, Login: "mallory", State: "APPROVED", CommitID: headSHA, SubmittedAt: at("2026-11-02T09:00:00Z")},
		{ID: 80, Login: "lars-bot", State: "APPROVED", CommitID: baseSHA, SubmittedAt: at("2026-11-02T10:00:00Z")},
		{ID: 82, Login: "lars-bot", State: "CHANGES_REQUESTED", CommitID: headSHA, SubmittedAt: at("2026-11-02T11:00:00Z")},
		{ID: 95, Login: "lars-bot", State: "PENDING", CommitID: headSHA},
	}
	if diff := cmp.Diff(want, rs, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("reviews (-want +got):\n%s", diff)
	}
}

func TestSetStatus(t *testing.T) {
	gh, mux, _ := setup(t)
	long := strings.Repeat("lars-approval: the approval by lars-bot is stale ", 5)
	mux.HandleFunc(repoPath+"/statuses/"+headSHA, func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodPost)
		body := readJSON(t, r)
		want := map[string]any{"state": "failure", "context": "G4 gate", "description": Truncate(long, MaxDescription), "target_url": "https://github.com/vision-ios/governance/actions/runs/1"}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("status body (-want +got):\n%s", diff)
		}
		if n := len([]rune(body["description"].(string))); n > MaxDescription {
			t.Errorf("description of %d characters", n)
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"url": "https://api.github.com/repos/vision-ios/governance/statuses/%s", "avatar_url": "https://github.com/images/error/hubot_happy.gif",
		  "id": 1, "node_id": "MDY6U3RhdHVzMQ==", "state": "failure", "description": %q, "target_url": "https://github.com/vision-ios/governance/actions/runs/1",
		  "context": "G4 gate", "created_at": "2026-11-02T10:00:00Z", "updated_at": "2026-11-02T10:00:00Z",
		  "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}}`, headSHA, body["description"])
	})
	err := gh.SetStatus(context.Background(), headSHA, Status{State: StateFailure, Context: "G4 gate", Description: long, TargetURL: "https://github.com/vision-ios/governance/actions/runs/1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.SetStatus(context.Background(), headSHA, Status{State: "passed", Context: "G4 gate"}); !fault.IsInput(err) {
		t.Fatalf("state passed: %v", err)
	}
}

func TestProtectBranch(t *testing.T) {
	gh, mux, _ := setup(t)
	var calls []string
	mux.HandleFunc(repoPath+"/branches/main/protection", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodPut)
		calls = append(calls, "protection")
		if got := r.Header.Get("Accept"); got != "application/vnd.github.luke-cage-preview+json" {
			t.Errorf("Accept = %q", got)
		}
		body := readJSON(t, r)
		want := map[string]any{
			"required_status_checks": map[string]any{"strict": true, "checks": []any{map[string]any{"context": "freeze-guard"}, map[string]any{"context": "G4 gate"}}},
			"required_pull_request_reviews": map[string]any{
				"dismiss_stale_reviews": true, "require_code_owner_reviews": false, "required_approving_review_count": float64(1),
			},
			"enforce_admins": true,
			"restrictions":   nil,
		}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("protection body (-want +got):\n%s", diff)
		}
		fmt.Fprint(w, `{
		  "url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection",
		  "required_status_checks": {"url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/required_status_checks", "strict": true,
		    "contexts": ["freeze-guard", "G4 gate"], "contexts_url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/required_status_checks/contexts",
		    "checks": [{"context": "freeze-guard", "app_id": null}, {"context": "G4 gate", "app_id": null}]},
		  "required_pull_request_reviews": {"url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/required_pull_request_reviews",
		    "dismiss_stale_reviews": true, "require_code_owner_reviews": false, "require_last_push_approval": false, "required_approving_review_count": 1},
		  "required_signatures": {"url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/required_signatures", "enabled": false},
		  "enforce_admins": {"url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/enforce_admins", "enabled": true},
		  "required_linear_history": {"enabled": false}, "allow_force_pushes": {"enabled": false}, "allow_deletions": {"enabled": false},
		  "block_creations": {"enabled": false}, "required_conversation_resolution": {"enabled": false}, "lock_branch": {"enabled": false}, "allow_fork_syncing": {"enabled": false}
		}`)
	})
	mux.HandleFunc(repoPath+"/branches/main/protection/required_signatures", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodPost)
		calls = append(calls, "signatures")
		if got := r.Header.Get("Accept"); got != "application/vnd.github.zzzax-preview+json" {
			t.Errorf("Accept = %q", got)
		}
		fmt.Fprint(w, `{"url": "https://api.github.com/repos/vision-ios/governance/branches/main/protection/required_signatures", "enabled": true}`)
	})
	got, err := gh.ProtectBranch(context.Background(), Protection{
		Branch: "main", Checks: []string{"freeze-guard", "G4 gate"}, Strict: true,
		RequiredApprovals: 1, DismissStaleReviews: true, SignedCommits: true, EnforceAdmins: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Protection{Branch: "main", Checks: []string{"freeze-guard", "G4 gate"}, Strict: true, RequiredApprovals: 1, DismissStaleReviews: true, SignedCommits: true, EnforceAdmins: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("protection (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"protection", "signatures"}, calls); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}

func TestCreatePullRequestAndLabels(t *testing.T) {
	gh, mux, _ := setup(t)
	mux.HandleFunc(repoPath+"/pulls", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodPost)
		body := readJSON(t, r)
		want := map[string]any{"title": "CR-0001: Raise the per-summary ceiling", "head": "cr/CR-0001", "base": "main", "body": "# CR-0001", "maintainer_can_modify": false}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("pull request body (-want +got):\n%s", diff)
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, pullRequestJSON)
	})
	mux.HandleFunc(repoPath+"/issues/7/labels", func(w http.ResponseWriter, r *http.Request) {
		checkRequest(t, r, http.MethodPost)
		var labels []string
		if err := json.NewDecoder(r.Body).Decode(&labels); err != nil {
			t.Errorf("labels body: %v", err)
		}
		if diff := cmp.Diff([]string{"change-request", "G4"}, labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		fmt.Fprint(w, `[{"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "https://api.github.com/repos/vision-ios/governance/labels/change-request", "name": "change-request", "color": "f29513", "default": false},
		  {"id": 208045947, "node_id": "MDU6TGFiZWwyMDgwNDU5NDc=", "url": "https://api.github.com/repos/vision-ios/governance/labels/G4", "name": "G4", "color": "a2eeef", "default": false}]`)
	})
	ctx := context.Background()
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "CR-0001: Raise the per-summary ceiling", Head: "cr/CR-0001", Base: "main", Body: "# CR-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 7 || pr.HeadRef != "cr/CR-0001" {
		t.Fatalf("pull request %+v", pr)
	}
	if err := gh.AddLabels(ctx, 7, "change-request", "G4"); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsNameTheCause: every failure GitHub can answer becomes an error
// naming its cause, with exit 2 for the token, permissions and requests,
// exit 3 for rate limits and outages; nothing reads as success.
func TestErrorsNameTheCause(t *testing.T) {
	reset := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		is      error
		code    int
		want    string
	}{
		{"bad credentials", 401, nil, `{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}`,
			ErrUnauthorized, fault.CodeInput, "401 Bad credentials; check GITHUB_TOKEN"},
		{"missing permission", 403, map[string]string{"X-RateLimit-Remaining": "4999"},
			`{"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", "status": "403"}`,
			ErrForbidden, fault.CodeInput, "403 Resource not accessible by integration"},
		{"not found", 404, nil, `{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", "status": "404"}`,
			ErrNotFound, fault.CodeInput, "404 Not Found"},
		{"validation failed", 422, nil,
			`{"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for vision-ios:cr/CR-0001."}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}`,
			ErrInvalid, fault.CodeInput, "A pull request already exists for vision-ios:cr/CR-0001."},
		{"primary rate limit", 403, map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(reset.Unix(), 10), "X-RateLimit-Resource": "core"},
			`{"message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`,
			ErrRateLimited, fault.CodeRuntime, "resets at 2030-01-01T00:00:00Z"},
		{"secondary rate limit", 403, map[string]string{"Retry-After": "60"},
			`{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			ErrRateLimited, fault.CodeRuntime, "retry after 1m0s"},
		{"too many requests", 429, map[string]string{"Retry-After": "30"}, `{"message": "Too Many Requests"}`, ErrRateLimited, fault.CodeRuntime, "429"},
		{"server error", 500, nil, `{"message": "Server Error"}`, ErrUnavailable, fault.CodeRuntime, "500 Server Error"},
		{"bad gateway with html", 502, map[string]string{"Content-Type": "text/html"}, "<html><body>\n<h1>Unicorn!</h1></body></html>", ErrUnavailable, fault.CodeRuntime, "502 Bad Gateway"},
		{"not json at all", 200, nil, "{", ErrUnavailable, fault.CodeRuntime, "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh, mux, _ := setup(t)
			mux.HandleFunc(repoPath+"/pulls/7", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			pr, err := gh.PullRequest(context.Background(), 7)
			if err == nil || pr != nil {
				t.Fatalf("a %d answer passed: %+v", tc.status, pr)
			}
			if !errors.Is(err, tc.is) || fault.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q (exit %d); want %v, exit %d, containing %q", err, fault.Code(err), tc.is, tc.code, tc.want)
			}
			if !strings.Contains(err.Error(), "get pull request #7 ("+testRepo+")") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error does not name the operation on one line: %q", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatal("the token leaked into the error")
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	gh, err := New(Config{Token: testToken, APIURL: url, Repo: testRepo, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gh.Reviews(context.Background(), 1)
	if !errors.Is(err, ErrUnavailable) || fault.Code(err) != fault.CodeRuntime {
		t.Fatalf("unreachable GitHub: %v (exit %d)", err, fault.Code(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := gh.PullRequest(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no token", Config{Repo: testRepo}, "GITHUB_TOKEN"},
		{"no repo", Config{Token: "t"}, "--github-repo"},
		{"bad repo", Config{Token: "t", Repo: "just-a-name"}, "want owner/name"},
		{"bad repo path", Config{Token: "t", Repo: "a/../b"}, "want owner/name"},
		{"bad url", Config{Token: "t", Repo: testRepo, APIURL: "ftp://x"}, "http(s) URL"},
		{"url with query", Config{Token: "t", Repo: testRepo, APIURL: "https://x/?a=b"}, "http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want exit 2 with %q", err, tc.want)
			}
		})
	}
	t.Setenv(EnvToken, " tok \n")
	t.Setenv(EnvAPIURL, "https://ghe.example.com/api/v3")
	t.Setenv(EnvRepo, "env/repo")
	c := ConfigFromEnv("", "")
	if c.Token != "tok" || c.APIURL != "https://ghe.example.com/api/v3" || c.Repo != "env/repo" {
		t.Fatalf("from env: %+v", c)
	}
	c = ConfigFromEnv("https://api.github.com", "flag/repo")
	if c.APIURL != "https://api.github.com" || c.Repo != "flag/repo" {
		t.Fatalf("flags over env: %+v", c)
	}
	gh, err := New(Config{Token: "t", Repo: testRepo, APIURL: "https://ghe.example.com/api/v3"})
	if err != nil || gh.gh.BaseURL.String() != "https://ghe.example.com/api/v3/" || gh.Repo() != testRepo {
		t.Fatalf("enterprise root: %v %v", gh.gh.BaseURL, err)
	}
}

func TestRepoFromRemote(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/vision-ios/governance.git": "vision-ios/governance",
		"https://github.com/vision-ios/governance":     "vision-ios/governance",
		"git@github.com:vision-ios/governance.git":     "vision-ios/governance",
		"ssh://git@ghe.example.com/vision-ios/gov.git": "vision-ios/gov",
		"file:///tmp/remote.git":                       "",
		"/tmp/remote.git":                              "",
		"https://github.com/only-owner":                "",
	} {
		got, ok := RepoFromRemote(in)
		if got != want || ok != (want != "") {
			t.Errorf("RepoFromRemote(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 140); got != "short" {
		t.Fatal(got)
	}
	s := strings.Repeat("é", 200)
	got := Truncate(s, 140)
	if n := len([]rune(got)); n != 140 || !strings.HasSuffix(got, "…") {
		t.Fatalf("%d runes: %q", n, got)
	}
}
