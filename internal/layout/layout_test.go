package layout

import (
	"testing"
	"time"
)

func TestCycleIDAndPaths(t *testing.T) {
	slot := time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)
	// sha256("2025-11-24T00:00:00Z")[:16]
	if got := CycleID(slot); got != "a77b190c8deb3f53" {
		t.Fatalf("CycleID = %s", got)
	}
	if got := CycleID(slot.In(time.FixedZone("x", 3600))); got != "a77b190c8deb3f53" {
		t.Fatalf("CycleID depends on the zone: %s", got)
	}
	lp := SignatureLog("a77b190c8deb3f53", slot)
	if lp != "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/2025/11/24/SIGNATURE_LOG_CYCLE_a77b190c8deb3f53.json" {
		t.Fatalf("log path %s", lp)
	}
	if ev, ok := EvidenceForLog(lp); !ok || ev != Evidence("a77b190c8deb3f53", slot) {
		t.Fatalf("evidence for log: %s", ev)
	}
	if Kind(lp) != "signature_log" || Kind(StateFile) != "operational_state" || Kind(CostReports+"/README.md") != "governance_readme" || Kind("policies/cycle.yaml") != "policy" || Kind("README.md") != "" {
		t.Fatal("kinds")
	}
}

func TestPathTricksRefused(t *testing.T) {
	for _, id := range []string{"../../../etc/pa", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "01234567/9abcdef", ""} {
		if CheckCycleID(id) == nil {
			t.Errorf("cycle id %q accepted", id)
		}
	}
	if _, ok := LogCycleID(SignatureLogs + "/2025/11/24/SIGNATURE_LOG_CYCLE_../x.json"); ok {
		t.Error("log path with a trick accepted")
	}
	for _, p := range []string{"../x", "/etc/passwd", "a/../b", ".git/HEAD", "a/.git/x", "a//b", "a\\b", "", "."} {
		if SafeRelPath(p) == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	if SafeRelPath("05_GOVERNANCE/x.json") != nil {
		t.Error("good path refused")
	}
}
