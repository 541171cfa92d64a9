package attest_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sunday ends the week after testutil.Epoch (2026-11-01 is a Sunday).
var sunday = time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)

type week struct {
	r       *ledger.Repo
	signers map[string]*signing.Signer
	logs    []string
	evs     []string
}

// newWeek records hourly cycles for the 7 days before sunday. summaryAt,
// when >= 0, makes that cycle trigger a summary.
func newWeek(t *testing.T, seed string, n int, mutate func(i int, o *cycle.Options)) *week {
	t.Helper()
	w := &week{signers: testutil.Signers(t, seed)}
	w.r = testutil.OpenRepo(t, testutil.InitRepo(t, w.signers))
	r := w.r
	start := sunday.AddDate(0, 0, -7)
	for i := 0; i < n; i++ {
		slot := start.Add(time.Duration(i) * time.Hour)
		o := cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: w.signers}
		if mutate != nil {
			mutate(i, &o)
		}
		c, err := cycle.RunAndCommit(context.Background(), r, o)
		if err != nil {
			t.Fatal(err)
		}
		w.logs = append(w.logs, c.LogPath)
		w.evs = append(w.evs, layout.Evidence(c.CycleID, slot))
	}
	return w
}

func (w *week) attest(t *testing.T) *attest.Committed {
	t.Helper()
	c, err := attest.Commit(context.Background(), w.r, w.signers["VEGA"], w.signers["CODE"], sunday, sunday.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCleanWeekPassesAndMatchesGolden(t *testing.T) {
	t.Parallel()
	w := newWeek(t, "golden-week", 168, nil)
	c := w.attest(t)
	a := c.Attestation
	if a.Outcome != attest.Pass || a.Cycles != 168 || a.Signatures.RatePct != 100 || a.Determinism.Tier4Rate != 1 || len(a.Reasons) != 0 {
		t.Fatalf("attestation %s %v", a.Outcome, a.Reasons)
	}
	md, err := w.r.HeadFile(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := attest.Check(md, attest.Pass); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "clean_week.md")
	if *update {
		os.WriteFile(golden, md, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if d := cmp.Diff(string(want), string(md)); d != "" {
		t.Fatalf("attestation differs from %s (-want +got):\n%s", golden, d)
	}
	// The commit is VEGA's; re-running is idempotent.
	cm, _ := w.r.Commit(c.Commit)
	if cm.Author.Name != "VEGA" {
		t.Fatalf("signed by %s", cm.Author.Name)
	}
	again := w.attest(t)
	if !again.Existing || again.Commit != c.Commit {
		t.Fatal("re-run committed again")
	}
}

func TestTamperedEvidenceFailsAndPauses(t *testing.T) {
	t.Parallel()
	w := newWeek(t, "tamper-week", 48, nil)
	// One evidence file edited later in a commit signed by CODE (a plain
	// git edit is unsigned and fails the same way).
	data, _ := w.r.HeadFile(w.evs[40])
	if len(data) == 0 {
		t.Fatal("no evidence")
	}
	head, _ := w.r.Head()
	ssh, _ := w.signers["CODE"].SSH()
	edited := strings.Replace(string(data), `"event_count":`, `"event_count":1`, 1)
	if edited == string(data) {
		t.Fatal("nothing edited")
	}
	if _, err := w.r.Apply(context.Background(), &ledger.Change{Subject: "edit", Files: []ledger.File{{Path: w.evs[40], Data: []byte(edited)}},
		Author: gov.Author("CODE"), When: sunday.Add(-time.Minute), Signer: ssh, Parent: head}); err != nil {
		t.Fatal(err)
	}
	c := w.attest(t)
	a := c.Attestation
	if a.Outcome != attest.Fail || !c.Paused {
		t.Fatalf("outcome %s paused %v", a.Outcome, c.Paused)
	}
	var adr002 attest.ADR
	for _, x := range a.ADRs {
		if x.ID == "ADR-002" {
			adr002 = x
		}
	}
	if adr002.Verdict != attest.VerdictFail || !strings.Contains(adr002.Evidence, w.evs[40]) {
		t.Fatalf("ADR-002 %+v", adr002)
	}
	md, _ := w.r.ReadFile(c.Commit, c.Path)
	if !strings.Contains(string(md), "**Outcome:** FAIL") || !strings.Contains(string(md), w.evs[40]) {
		t.Fatalf("markdown does not name the file:\n%s", md)
	}
	snap, _ := gov.Load(w.r)
	if snap.State.State != state.Paused {
		t.Fatalf("state %s", snap.State.State)
	}
	if _, err := w.r.HeadFile(layout.Deviations + "/DEV-adr_compliance_failure-ATTEST-20261108.json"); err != nil {
		t.Fatalf("deviation: %v", err)
	}
	_, err := cycle.RunAndCommit(context.Background(), w.r, cycle.Options{Slot: sunday.Add(time.Hour), Clock: clock.NewSim(sunday.Add(time.Hour), time.Second), Signers: w.signers})
	if fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("cycle while paused: %v", err)
	}
}

// near is a provider whose summaries cost 92% of the ceiling.
type near struct{}

func (near) Name() string  { return "near" }
func (near) Model() string { return "builtin-summarizer-v1" }
func (near) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	req.MaxTokens = 0
	r, err := llm.Builtin{}.Summarize(ctx, req)
	r.InputTokens, r.OutputTokens = 0, 1534 // 1534 × $0.03/1k = $0.04602
	return r, err
}

func TestCeilingAlertGivesConditions(t *testing.T) {
	t.Parallel()
	w := newWeek(t, "alert-week", 31, func(i int, o *cycle.Options) {
		if i == 30 {
			o.Market, o.News, o.Provider = testutil.Rally{}, testutil.Bearish{}, near{}
		}
	})
	a := w.attest(t).Attestation
	if a.Outcome != attest.PassConditions || a.Economics.Alerts != 1 || a.Economics.CeilingBreaches != 0 {
		t.Fatalf("outcome %s alerts %d reasons %v", a.Outcome, a.Economics.Alerts, a.Reasons)
	}
}

func TestNotASunday(t *testing.T) {
	if err := attest.CheckSunday(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)); !fault.IsInput(err) || !strings.Contains(err.Error(), "Tuesday") {
		t.Fatalf("err = %v", err)
	}
	if got := attest.LastSunday(time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("LastSunday = %s", got)
	}
}

func TestEmptyWeekIsConditionsNotPass(t *testing.T) {
	signers := testutil.Signers(t, "empty")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	c, err := attest.Commit(context.Background(), r, signers["VEGA"], signers["CODE"], sunday, sunday.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Attestation.Outcome != attest.PassConditions || c.Attestation.Cycles != 0 {
		t.Fatalf("empty week: %s", c.Attestation.Outcome)
	}
}

func TestCheckRejectsMalformedMarkdown(t *testing.T) {
	for _, md := range []string{
		"# T\n\n## 1. ADR compliance\n\n**Outcome:** PASS\n",
		"no title",
	} {
		if attest.Check([]byte(md), attest.Pass) == nil {
			t.Errorf("accepted %q", md)
		}
	}
}

func BenchmarkWeeklyAttestation(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	signers := testutil.Signers(b, "bench-week")
	r := testutil.OpenRepo(b, testutil.InitRepo(b, signers))
	testutil.HourlyCycles(b, r, signers, sunday.AddDate(0, 0, -7), 168)
	snap, _ := gov.Load(r)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := attest.Build(context.Background(), r, snap, sunday)
		if err != nil || a.Outcome != attest.Pass {
			b.Fatalf("%v %v", err, a.Reasons)
		}
		_ = a.Markdown(nil)
	}
}
