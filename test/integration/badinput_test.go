package integration

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// snapshot is what "nothing written" compares: the repository's HEAD, its
// status (untracked files included), and every file in the key directory.
type snapshot struct {
	head, status string
	keys         map[string]string
}

func takeSnapshot(t *testing.T, repo, keys string) snapshot {
	t.Helper()
	s := snapshot{keys: map[string]string{}}
	if repo != "" {
		if r := gitRun(t, repo, "rev-parse", "-q", "--verify", "HEAD"); r.code == 0 {
			s.head = strings.TrimSpace(r.stdout)
		}
		s.status = git(t, repo, "status", "--porcelain", "--untracked-files=all", "--ignored")
	}
	if keys != "" {
		ents, _ := os.ReadDir(keys)
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(filepath.Join(keys, e.Name()))
			s.keys[e.Name()] = fi.Mode().String() + " " + string(data)
		}
	}
	return s
}

func (s snapshot) diff(o snapshot) []string {
	var d []string
	if s.head != o.head {
		d = append(d, "HEAD moved from "+s.head+" to "+o.head)
	}
	if s.status != o.status {
		d = append(d, "git status changed from:\n"+s.status+"\nto:\n"+o.status)
	}
	names := map[string]bool{}
	for n := range s.keys {
		names[n] = true
	}
	for n := range o.keys {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if s.keys[n] != o.keys[n] {
			d = append(d, "key directory file "+n+" changed, appeared or vanished")
		}
	}
	return d
}

// TestBadInputExit2: bad input, usage errors and broken configuration exit 2
// and write nothing: no commit, no worktree change, no key touched.
func TestBadInputExit2(t *testing.T) {
	t.Parallel()
	const goodCSVHeader = "open_time,open,high,low,close,volume\n"
	tests := []struct {
		name string
		// setup prepares f (a repository with one cycle) and returns the
		// vios arguments plus the repository and key directory to watch
		// (f.repo and f.keys when empty).
		setup func(t *testing.T, f *fixture) (args []string, repo, keys string)
		// stderr must contain each of these.
		stderr []string
	}{
		{
			name: "invalid --at",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", "2026-13-01T00:00:00Z"}, "", ""
			},
			stderr: []string{"--at"},
		},
		{
			name: "--at without a zone",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", "2026-01-01 05:00"}, "", ""
			},
			stderr: []string{"--at"},
		},
		{
			name: "invalid --now",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--now", "yesterday"}, "", ""
			},
			stderr: []string{"--now"},
		},
		{
			name: "missing CSV file",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "missing.csv")
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--source", "csv:" + p}, "", ""
			},
			stderr: []string{"missing.csv"},
		},
		{
			name: "malformed CSV: bad number",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "bad.csv")
				writeFile(t, p, []byte(goodCSVHeader+"2025-12-30T00:00:00Z,1,2,0.5,1.5,10\n2025-12-31T00:00:00Z,1,2,0.5,abc,10\n"), 0o644)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--source", "csv:" + p}, "", ""
			},
			stderr: []string{"bad.csv", "line 3"},
		},
		{
			name: "malformed CSV: wrong header",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "hdr.csv")
				writeFile(t, p, []byte("time,open,high,low,close,volume\n2025-12-31T00:00:00Z,1,2,0.5,1.5,10\n"), 0o644)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--source", "csv:" + p}, "", ""
			},
			stderr: []string{"hdr.csv", "header"},
		},
		{
			name: "CSV with too little history",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "short.csv")
				writeFile(t, p, csvRows(t, initTime.AddDate(0, 0, -10), 10), 0o644)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--source", "csv:" + p}, "", ""
			},
			stderr: []string{"short.csv"},
		},
		{
			name: "malformed events JSONL",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "news.jsonl")
				writeFile(t, p, []byte(`{"id":"a","published_at":"2026-01-01T01:00:00Z","source":"s","headline":"h","keywords":["btc"],"sentiment":0.5,"relevance":0.5}`+"\n{not json\n"), 0o644)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--events", "file:" + p}, "", ""
			},
			stderr: []string{"news.jsonl", "line 2"},
		},
		{
			name: "events JSONL with an out-of-range sentiment",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				p := filepath.Join(f.dir, "news.jsonl")
				writeFile(t, p, []byte(`{"id":"a","published_at":"2026-01-01T01:00:00Z","source":"s","headline":"h","keywords":["btc"],"sentiment":7,"relevance":0.5}`+"\n"), 0o644)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--events", "file:" + p}, "", ""
			},
			stderr: []string{"news.jsonl", "sentiment"},
		},
		{
			name: "unknown market source",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "--source", "ftp://x"}, "", ""
			},
			stderr: []string{"ftp://x"},
		},
		{
			name: "cycle run on a plain git repository",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				plain := filepath.Join(f.dir, "plain")
				git(t, f.dir, "init", "-q", plain)
				writeFile(t, filepath.Join(plain, "README.md"), []byte("hello\n"), 0o644)
				git(t, plain, "add", "README.md")
				git(t, plain, "commit", "-q", "-m", "hello")
				return []string{"cycle", "run", "--repo", plain, "--keys", f.keys, "--at", slot(5)}, plain, ""
			},
			stderr: []string{"not a vios governance repository"},
		},
		{
			name: "cycle run on an empty git repository",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				plain := filepath.Join(f.dir, "empty")
				git(t, f.dir, "init", "-q", plain)
				return []string{"cycle", "run", "--repo", plain, "--keys", f.keys, "--at", slot(5)}, plain, ""
			},
			stderr: []string{"not a vios governance repository"},
		},
		{
			name: "audit verify on a plain git repository",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				plain := filepath.Join(f.dir, "plain")
				git(t, f.dir, "init", "-q", plain)
				writeFile(t, filepath.Join(plain, "README.md"), []byte("hello\n"), 0o644)
				git(t, plain, "add", "README.md")
				git(t, plain, "commit", "-q", "-m", "hello")
				return []string{"audit", "verify", "--repo", plain}, plain, ""
			},
			stderr: []string{"not a vios governance repository"},
		},
		{
			name: "init on an initialised repository",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"init", f.repo, "--keys", f.keys}, "", ""
			},
			stderr: []string{"already"},
		},
		{
			name: "keys generate into an existing key directory",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"keys", "generate", "--keys", f.keys}, "", ""
			},
			stderr: []string{"refusing to overwrite"},
		},
		{
			name: "keys generate over a single existing key",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				dir := filepath.Join(f.dir, "partial")
				writeFile(t, filepath.Join(dir, "vega.key"), []byte("keep me\n"), 0o600)
				return []string{"keys", "generate", "--keys", dir}, "", dir
			},
			stderr: []string{"vega.key", "refusing to overwrite"},
		},
		{
			name: "keys generate inside a git work tree",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"keys", "generate", "--keys", filepath.Join(f.repo, "secrets", "keys")}, "", ""
			},
			stderr: []string{"work tree"},
		},
		{
			name: "keys generate without a directory",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"keys", "generate"}, "", ""
			},
			stderr: []string{"--keys"},
		},
		{
			name: "garbage key file",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				writeFile(t, filepath.Join(f.keys, "finn.key"), []byte("this is not a key\n"), 0o600)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"finn.key"},
		},
		{
			name: "empty key file",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				writeFile(t, filepath.Join(f.keys, "code.key"), nil, 0o600)
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"code.key"},
		},
		{
			name: "missing key file",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				if err := os.Remove(filepath.Join(f.keys, "stig.key")); err != nil {
					t.Fatal(err)
				}
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"stig.key"},
		},
		{
			name: "world-readable key file",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				if err := os.Chmod(filepath.Join(f.keys, "line.key"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"line.key", "chmod 600"},
		},
		{
			name: "unknown flag",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--bogus"}, "", ""
			},
			stderr: []string{"--bogus"},
		},
		{
			name: "unknown command",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycel", "run", "--repo", f.repo}, "", ""
			},
			stderr: []string{"unknown command"},
		},
		{
			name: "unknown subcommand",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "walk", "--repo", f.repo}, "", ""
			},
			stderr: []string{"walk"},
		},
		{
			name: "unexpected argument",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "extra"}, "", ""
			},
		},
		{
			name: "unknown output format",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5), "-o", "yaml"}, "", ""
			},
			stderr: []string{"yaml"},
		},
		{
			name: "demo with zero days",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				return []string{"demo", "--dir", filepath.Join(f.dir, "demo"), "--days", "0"}, "", ""
			},
			stderr: []string{"--days"},
		},
		{
			name: "broken policy: negative daily_rate_limit",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				editFile(t, f.repo, "policies/economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: -1")
				git(t, f.repo, "commit", "-q", "-am", "break the rate limit")
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"economics.yaml", "daily_rate_limit"},
		},
		{
			name: "broken policy: unknown key",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				editFile(t, f.repo, "policies/economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: 100\nsurprise_key: 1")
				git(t, f.repo, "commit", "-q", "-am", "add a key")
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"economics.yaml", "surprise_key"},
		},
		{
			name: "broken policy: invalid YAML",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				editFile(t, f.repo, "policies/cycle.yaml", "version: v1.0", "version: [v1.0")
				git(t, f.repo, "commit", "-q", "-am", "break yaml")
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"cycle.yaml"},
		},
		{
			name: "broken registry",
			setup: func(t *testing.T, f *fixture) ([]string, string, string) {
				editFile(t, f.repo, "policies/keys/agents.json", `"algorithm": "ed25519"`, `"algorithm": "rsa"`)
				git(t, f.repo, "commit", "-q", "-am", "break registry")
				return []string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(5)}, "", ""
			},
			stderr: []string{"agents.json", "rsa"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			args, repo, keys := tc.setup(t, f)
			if repo == "" {
				repo = f.repo
			}
			if keys == "" {
				keys = f.keys
			}
			before := takeSnapshot(t, repo, keys)
			stdout, stderr, code := run(t, args...)
			if code != 2 {
				t.Fatalf("vios %s: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			if !strings.HasPrefix(stderr, "vios: ") && !strings.Contains(stderr, "\nvios: ") {
				t.Errorf("stderr has no \"vios: \" diagnostic:\n%s", stderr)
			}
			if strings.TrimSpace(stdout) != "" {
				t.Errorf("stdout is not empty on bad input:\n%s", stdout)
			}
			for _, d := range before.diff(takeSnapshot(t, repo, keys)) {
				t.Errorf("bad input wrote something: %s", d)
			}
			// Nothing written outside either: no stray key directory.
			if strings.Contains(tc.name, "work tree") {
				if _, err := os.Stat(filepath.Join(f.repo, "secrets")); err == nil {
					t.Errorf("keys generate created %s inside the work tree", filepath.Join(f.repo, "secrets"))
				}
			}
		})
	}
}

// TestNotARepository: a directory that is not a git repository at all is bad
// input too (exit 2), not a runtime error.
func TestNotARepository(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	dir := filepath.Join(f.dir, "nothing")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"cycle", "run", "--repo", dir, "--keys", f.keys, "--at", slot(1)},
		{"audit", "verify", "--repo", dir},
		{"state", "show", "--repo", dir},
		{"cycle", "run", "--repo", filepath.Join(f.dir, "does-not-exist"), "--keys", f.keys, "--at", slot(1)},
	} {
		stdout, stderr, code := run(t, args...)
		if code != 2 {
			t.Errorf("vios %s: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("vios wrote into %s: %v", dir, ents)
	}
}
