package brief_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/brief"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/status"
	"github.com/vision-ios/vios/internal/testutil"
)

func TestBriefAfterFirstAttestation(t *testing.T) {
	signers := testutil.Signers(t, "brief")
	r, err := ledger.Open(testutil.InitRepo(t, signers))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sunday := time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)
	start := sunday.AddDate(0, 0, -7)
	for i := 0; i < 72; i++ {
		slot := start.Add(time.Duration(i) * time.Hour)
		o := cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}
		if i%6 == 0 {
			o.Market, o.News = testutil.Rally{}, testutil.Bearish{}
		}
		if _, err := cycle.RunAndCommit(context.Background(), r, o); err != nil {
			t.Fatal(err)
		}
	}
	// Before the first attestation: refused.
	_, _, _, err = brief.Commit(context.Background(), r, signers["CODE"], sunday)
	if !errors.Is(err, brief.ErrNoAttestation) || fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("brief before attestation: %v", err)
	}
	st, err := status.Derive(r, sunday.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Directives[3].State != "WAITING" || !st.Artifacts[0].Overdue || st.Artifacts[2].Last != "never" {
		t.Fatalf("status before attestation: %+v %+v", st.Directives[3], st.Artifacts)
	}
	if _, err := attest.Commit(context.Background(), r, signers["VEGA"], signers["CODE"], sunday, sunday.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	md, h, existing, err := brief.Commit(context.Background(), r, signers["CODE"], sunday.Add(2*time.Hour))
	if err != nil || existing || h.IsZero() {
		t.Fatalf("brief: %v", err)
	}
	text := string(md)
	for _, want := range []string{
		"72 of 168 scheduled cycles recorded (42.9%)",
		"FINN generated 12 Tier-2 summaries",
		"| FINN |", "| STIG |",
		"Replaying every cycle of the week from its evidence reproduced",
		"![Daily ADR-012 utilisation",
		"## 5. Recommendations for the Phase 3 gate",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("brief lacks %q", want)
		}
	}
	if strings.Contains(text, "is ready to enter") {
		t.Error("brief calls an incomplete week ready")
	}
	if err := brief.Check(md); err != nil {
		t.Fatal(err)
	}
	if _, _, again, err := brief.Commit(context.Background(), r, signers["CODE"], sunday.Add(3*time.Hour)); err != nil || !again {
		t.Fatalf("re-run: %v %v", again, err)
	}
	st, err = status.Derive(r, sunday.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Directives[3].State != "BRIEF COMMITTED" || st.Directives[0].State != "ENFORCED" || st.Artifacts[2].Last != "2026-11-08" {
		t.Fatalf("status after brief: %+v", st.Directives)
	}
	md2 := string(st.Markdown())
	if !strings.Contains(md2, "| Architecture freeze | ENFORCED |") || !strings.Contains(md2, "**OVERDUE**") {
		t.Fatalf("status markdown:\n%s", md2)
	}
}

func TestCheckRefusesLongOrIncompleteBriefs(t *testing.T) {
	if brief.Check([]byte("# B\n\n## Executive summary\n")) == nil {
		t.Error("incomplete brief accepted")
	}
	var b strings.Builder
	for _, s := range brief.Sections {
		b.WriteString("## " + s + "\n\n")
	}
	b.WriteString(strings.Repeat("word ", brief.MaxWords))
	if err := brief.Check([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "words") {
		t.Errorf("long brief: %v", err)
	}
}
