package attest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// TestDeterminismBelowTargetOpensADeviation: a week whose replay falls
// below the overall determinism target opens a determinism deviation
// beside the ADR-compliance one of the FAIL.
func TestDeterminismBelowTargetOpensADeviation(t *testing.T) {
	t.Parallel()
	w := newWeek(t, "determinism-week", 12, nil)
	var files []ledger.File
	for _, p := range w.evs {
		data, _ := w.r.HeadFile(p)
		edited := strings.Replace(string(data), `"event_count":`, `"event_count":1`, 1)
		if edited == string(data) {
			t.Fatal("nothing edited")
		}
		files = append(files, ledger.File{Path: p, Data: []byte(edited)})
	}
	head, _ := w.r.Head()
	ssh, _ := w.signers["CODE"].SSH()
	if _, err := w.r.Apply(context.Background(), &ledger.Change{Subject: "edit", Files: files,
		Author: gov.Author("CODE"), When: sunday.Add(-time.Minute), Signer: ssh, Parent: head}); err != nil {
		t.Fatal(err)
	}
	c := w.attest(t)
	if c.Attestation.Outcome != attest.Fail || c.Attestation.Determinism.OverallRate >= 0.95 {
		t.Fatalf("outcome %s, determinism %.3f", c.Attestation.Outcome, c.Attestation.Determinism.OverallRate)
	}
	data, err := w.r.HeadFile(layout.Deviations + "/DEV-determinism_below_threshold-ATTEST-20261108.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := deviation.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if d.Severity != "high" || d.SLA != "24h0m0s" || !strings.Contains(d.Reason, "below the 95% target") {
		t.Fatalf("deviation %+v", d)
	}
	if _, err := w.r.HeadFile(layout.Deviations + "/DEV-adr_compliance_failure-ATTEST-20261108.json"); err != nil {
		t.Fatal(err)
	}
}
