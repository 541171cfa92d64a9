package ghub

import (
	"os"
	"path/filepath"
	"testing"
)

func TestActions(t *testing.T) {
	got := Annotation("error", "G4 gate: lars-approval, stale", "50% done\nsecond line")
	if want := "::error title=G4 gate%3A lars-approval%2C stale::50%25 done%0Asecond line\n"; got != want {
		t.Fatalf("annotation %q, want %q", got, want)
	}
	p := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", p)
	for _, s := range []string{"a\n", "b\n"} {
		if err := AppendStepSummary(s); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(p); string(data) != "a\nb\n" {
		t.Fatalf("summary %q", data)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	if err := AppendStepSummary("x"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_SERVER_URL", "https://github.com/")
	t.Setenv("GITHUB_REPOSITORY", "o/r")
	t.Setenv("GITHUB_RUN_ID", "7")
	if got := RunURL(); got != "https://github.com/o/r/actions/runs/7" {
		t.Fatalf("run url %q", got)
	}
	t.Setenv("GITHUB_ACTIONS", "true")
	if !InActions() {
		t.Fatal("not in Actions")
	}
	if got := MarkdownCell("a|b\nc"); got != `a\|b<br>c` {
		t.Fatalf("cell %q", got)
	}
}
