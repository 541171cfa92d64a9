package integration

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTamperingIsCaught: each subtest tampers with a fresh repository (init
// + 3 cycles) through the git CLI and expects `vios audit verify` to exit 1
// with failures naming the tampering commit and the file.
func TestTamperingIsCaught(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// tamper changes f.repo and returns the commit to blame and the file.
		tamper func(t *testing.T, f *fixture) (commit, file string)
		// checks that must each name commit and file.
		checks []string
		// checks that must not appear at all.
		absent []string
		// gitSig is what stock git's %G? should say of the tampering commit
		// ("" to not check).
		gitSig string
	}{
		{
			name: "edited log committed with plain git",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				p := f.artifact(t, "log", 2)
				setJSON(t, f.repo, p, "final_verdict", `"DENIED"`)
				git(t, f.repo, "commit", "-q", "-am", "fix verdict")
				return f.head(t), p
			},
			checks: []string{"commit-signature", "append-only"},
			gitSig: "N",
		},
		{
			name: "edited log signed with CODE's own key",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				key := openSSHKey(t, filepath.Join(f.keys, "code.key"), filepath.Join(f.dir, "code_ssh"))
				p := f.artifact(t, "log", 1)
				setJSON(t, f.repo, p, "system", `"vios-patched"`)
				gitSigned(t, f.repo, key, "commit", "-q", "-S", "-am", "patch system")
				return f.head(t), p
			},
			checks: []string{"append-only"},
			absent: []string{"commit-signature", "commit-signer"},
			gitSig: "G",
		},
		{
			name: "commit signed by a key not in the registry",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				key := filepath.Join(f.dir, "rogue")
				if r := execute(t, f.dir, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rogue", "-f", key); r.code != 0 {
					t.Fatalf("ssh-keygen: %s", r)
				}
				p := "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/NOTE.md"
				writeFile(t, filepath.Join(f.repo, filepath.FromSlash(p)), []byte("rogue note\n"), 0o644)
				git(t, f.repo, "add", p)
				gitSigned(t, f.repo, key, "commit", "-q", "-S", "-m", "rogue note")
				return f.head(t), p
			},
			checks: []string{"commit-signature"},
			// git cannot match the key to a principal: not G.
		},
		{
			name: "FINN's registry key signs a signature_log commit",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				key := openSSHKey(t, filepath.Join(f.keys, "finn.key"), filepath.Join(f.dir, "finn_ssh"))
				p := "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/NOTE.md"
				writeFile(t, filepath.Join(f.repo, filepath.FromSlash(p)), []byte("finn was here\n"), 0o644)
				git(t, f.repo, "add", p)
				gitSigned(t, f.repo, key, "commit", "-q", "-S", "-m", "finn note")
				return f.head(t), p
			},
			checks: []string{"commit-signer"},
			absent: []string{"commit-signature"},
			// Stock git accepts it: FINN is in allowed_signers. Only vios
			// knows FINN may not sign signature logs.
			gitSig: "G",
		},
		{
			name: "deleted evidence",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				p := f.artifact(t, "evidence", 2)
				git(t, f.repo, "rm", "-q", p)
				git(t, f.repo, "commit", "-q", "-m", "drop evidence")
				return f.head(t), p
			},
			checks: []string{"append-only"},
		},
		{
			name: "edited evidence output committed with plain git",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				p := f.artifact(t, "evidence", 2)
				bumpNumber(t, f.repo, p, "last_close")
				git(t, f.repo, "commit", "-q", "-am", "better close")
				return f.head(t), p
			},
			checks: []string{"append-only", "commit-signature"},
		},
		{
			name: "evidence edited in the commit that adds it, re-signed by CODE",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				key := openSSHKey(t, filepath.Join(f.keys, "code.key"), filepath.Join(f.dir, "code_ssh"))
				p := f.artifact(t, "evidence", 3)
				bumpNumber(t, f.repo, p, "last_close")
				git(t, f.repo, "add", p)
				gitSigned(t, f.repo, key, "commit", "-q", "-S", "--amend", "--no-edit")
				return f.head(t), p
			},
			checks: []string{"evidence"},
			absent: []string{"commit-signature", "commit-signer", "append-only"},
			gitSig: "G",
		},
		{
			name: "history rewritten without the middle cycle, re-signed by CODE",
			tamper: func(t *testing.T, f *fixture) (string, string) {
				key := openSSHKey(t, filepath.Join(f.keys, "code.key"), filepath.Join(f.dir, "code_ssh"))
				drop := []string{f.artifact(t, "log", 2), f.artifact(t, "evidence", 2)}
				keep := f.artifact(t, "log", 3)
				// HEAD's tree without cycle 2's files, on top of cycle 1.
				git(t, f.repo, "rm", "-q", "--cached", drop[0], drop[1])
				tree := git(t, f.repo, "write-tree")
				msg := git(t, f.repo, "log", "-1", "--format=%B", "HEAD")
				h := gitSigned(t, f.repo, key, "commit-tree", "-S", "-p", "HEAD~2", "-m", msg, tree)
				git(t, f.repo, "reset", "-q", "--hard", h)
				if n := f.commits(t); n != 3 {
					t.Fatalf("rewritten history has %d commits, want 3", n)
				}
				return h, keep
			},
			checks: []string{"lineage"},
			absent: []string{"commit-signature", "commit-signer", "append-only", "evidence"},
			gitSig: "G",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 3)
			if rep, code := audit(t, f.repo); code != 0 {
				t.Fatalf("untouched repository fails the audit (exit %d):\n%s", code, dumpFailures(rep))
			}
			commit, file := tc.tamper(t, f)

			if tc.gitSig != "" {
				if got := sigStatus(t, f.repo, commit); got != tc.gitSig {
					t.Errorf("stock git %%G? of the tampering commit = %q, want %q", got, tc.gitSig)
				}
			}

			rep, code := audit(t, f.repo)
			if code != 1 || rep.Passed {
				t.Fatalf("audit verify after tampering: exit %d, passed %v, want exit 1\n%s", code, rep.Passed, dumpFailures(rep))
			}
			for _, check := range tc.checks {
				if len(findFailure(rep, commit, file, check)) == 0 {
					t.Errorf("no %q failure naming commit %s and file %s; failures:\n%s", check, commit[:12], file, dumpFailures(rep))
				}
			}
			for _, check := range tc.absent {
				if fs := findFailure(rep, "", "", check); len(fs) > 0 {
					t.Errorf("unexpected %q failure(s):\n%s", check, dumpFailures(auditReport{Failures: fs}))
				}
			}
			// Every failure names the tampering commit: nothing before it
			// is blamed.
			for _, fl := range rep.Failures {
				if fl.Commit != commit {
					t.Errorf("failure blames %s, not the tampering commit %s: %s [%s] %s", fl.Commit, commit, fl.File, fl.Check, fl.Reason)
				}
			}
			// The text output names them too.
			stdout, _, tcode := run(t, "audit", "verify", "--repo", f.repo)
			if tcode != 1 || !strings.Contains(stdout, "audit FAIL") || !strings.Contains(stdout, commit[:12]) || !strings.Contains(stdout, file) {
				t.Errorf("audit verify (text): exit %d, want 1 and FAIL naming %s and %s:\n%s", tcode, commit[:12], file, stdout)
			}
		})
	}
}

// TestTamperingReasons pins the reasons the audit gives for the two
// signer checks, so an operator can tell them apart.
func TestTamperingReasons(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	rogue := filepath.Join(f.dir, "rogue")
	if r := execute(t, f.dir, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rogue", "-f", rogue); r.code != 0 {
		t.Fatalf("ssh-keygen: %s", r)
	}
	finn := openSSHKey(t, filepath.Join(f.keys, "finn.key"), filepath.Join(f.dir, "finn_ssh"))

	p1 := "05_GOVERNANCE/DEVIATIONS/DEV-rogue.md"
	writeFile(t, filepath.Join(f.repo, filepath.FromSlash(p1)), []byte("x\n"), 0o644)
	git(t, f.repo, "add", p1)
	gitSigned(t, f.repo, rogue, "commit", "-q", "-S", "-m", "rogue")
	c1 := f.head(t)

	p2 := "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/NOTE.md"
	writeFile(t, filepath.Join(f.repo, filepath.FromSlash(p2)), []byte("y\n"), 0o644)
	git(t, f.repo, "add", p2)
	gitSigned(t, f.repo, finn, "commit", "-q", "-S", "-m", "finn")
	c2 := f.head(t)

	rep, code := audit(t, f.repo)
	if code != 1 {
		t.Fatalf("audit: exit %d, want 1", code)
	}
	if fs := findFailure(rep, c1, p1, "commit-signature"); len(fs) != 1 || !strings.Contains(fs[0].Reason, "not in the agent registry") {
		t.Errorf("rogue key: want one commit-signature failure saying the key is not in the registry; failures:\n%s", dumpFailures(rep))
	}
	if fs := findFailure(rep, c2, p2, "commit-signer"); len(fs) != 1 || !strings.Contains(fs[0].Reason, "FINN") || !strings.Contains(fs[0].Reason, "signature_log") {
		t.Errorf("FINN key: want one commit-signer failure naming FINN and signature_log; failures:\n%s", dumpFailures(rep))
	}
	if len(rep.Failures) != 2 {
		t.Errorf("want exactly 2 failures, got:\n%s", dumpFailures(rep))
	}
}

// editFile replaces the first occurrence of old in the repository file p.
func editFile(t *testing.T, repo, p, old, new string) {
	t.Helper()
	full := filepath.Join(repo, filepath.FromSlash(p))
	data := string(readFile(t, full))
	if !strings.Contains(data, old) {
		t.Fatalf("%s does not contain %q", p, old)
	}
	writeFile(t, full, []byte(strings.Replace(data, old, new, 1)), 0o644)
}

// jsonValue matches one JSON scalar: a string, a number, true, false, null.
const jsonValue = `("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)`

// editJSON replaces the value of the first "key" in the repository JSON
// file p (whatever its formatting) with the JSON literal value, and returns
// the old literal.
func editJSON(t *testing.T, repo, p, key string, value func(old string) string) string {
	t.Helper()
	full := filepath.Join(repo, filepath.FromSlash(p))
	data := readFile(t, full)
	re := regexp.MustCompile(`"` + regexp.QuoteMeta(key) + `"\s*:\s*` + jsonValue)
	m := re.FindSubmatchIndex(data)
	if m == nil {
		t.Fatalf("%s has no scalar %q", p, key)
	}
	old := string(data[m[2]:m[3]])
	nv := value(old)
	if nv == old {
		t.Fatalf("%s: %q is already %s", p, key, old)
	}
	out := append([]byte{}, data[:m[2]]...)
	out = append(out, nv...)
	out = append(out, data[m[3]:]...)
	writeFile(t, full, out, 0o644)
	return old
}

// bumpNumber adds 1 to the first numeric value of "key" in the repository
// file p.
func bumpNumber(t *testing.T, repo, p, key string) {
	t.Helper()
	editJSON(t, repo, p, key, func(old string) string {
		v, err := strconv.ParseFloat(old, 64)
		if err != nil {
			t.Fatalf("%s: %q is %s, not a number", p, key, old)
		}
		return strconv.FormatFloat(v+1, 'f', -1, 64)
	})
}

// setJSON sets the first "key" of the repository JSON file p to value.
func setJSON(t *testing.T, repo, p, key, value string) {
	t.Helper()
	editJSON(t, repo, p, key, func(string) string { return value })
}
