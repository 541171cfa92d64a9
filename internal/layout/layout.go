// Package layout owns the paths of a governance repository: where each
// artifact lives, which artifact kind a path is, and the validation of ids
// that become parts of paths.
//
// Per-cycle artifacts are sharded by the slot's UTC date
// (SIGNATURE_AUDIT_LOGS/2026/11/25/SIGNATURE_LOG_CYCLE_<id>.json) so that a
// commit rewrites a handful of small trees, not one tree that grows with
// every cycle ever run.
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// Fixed paths of a governance repository.
const (
	Governance      = "05_GOVERNANCE"
	SignatureLogs   = Governance + "/SIGNATURE_AUDIT_LOGS"
	CycleEvidence   = Governance + "/CYCLE_EVIDENCE"
	CostReports     = Governance + "/COST_REPORTS"
	ReplayCharges   = CostReports + "/REPLAY_CHARGES"
	Attestations    = Governance + "/VEGA_ATTESTATIONS"
	Deviations      = Governance + "/DEVIATIONS"
	ChangeRequests  = Governance + "/CHANGE_REQUESTS"
	StateFile       = Governance + "/OPERATIONAL_STATE.json"
	StatusFile      = Governance + "/OPERATIONAL_STATUS.md"
	Phase3Brief     = Governance + "/PHASE3_READINESS_BRIEF.md"
	Policies        = "policies"
	Registry        = "policies/keys/agents.json"
	AllowedSigners  = "policies/keys/allowed_signers"
	Baseline        = "baseline"
	BaselineV1      = "baseline/v1.0.json"
	logPrefix       = "SIGNATURE_LOG_CYCLE_"
	evidencePrefix  = "CYCLE_"
	replayPrefix    = "REPLAY_"
	jsonSuffix      = ".json"
	cycleIDHexChars = 16
)

var cycleIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// CycleID is the first 16 hex digits of sha256 of the slot's RFC 3339 UTC time.
func CycleID(slot time.Time) string {
	sum := sha256.Sum256([]byte(slot.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(sum[:])[:cycleIDHexChars]
}

// CheckCycleID refuses anything but 16 lowercase hex digits, so an id can
// never smuggle a path ("../", "/") into an artifact path.
func CheckCycleID(id string) error {
	if !cycleIDRe.MatchString(id) {
		return fault.Inputf("cycle id %q: want 16 lowercase hex digits", id)
	}
	return nil
}

func shard(slot time.Time) string { return slot.UTC().Format("2006/01/02") }

// SignatureLog is the path of a cycle's signature audit log.
func SignatureLog(id string, slot time.Time) string {
	return SignatureLogs + "/" + shard(slot) + "/" + logPrefix + id + jsonSuffix
}

// Evidence is the path of a cycle's evidence bundle.
func Evidence(id string, slot time.Time) string {
	return CycleEvidence + "/" + shard(slot) + "/" + evidencePrefix + id + jsonSuffix
}

// ReplayCharge is the path of the record of what one paid replay run spent,
// sharded by the UTC day it was charged to. It lives under COST_REPORTS (an
// artifact CODE signs, append-only like every canonical record).
func ReplayCharge(id string, day time.Time) string {
	return ReplayCharges + "/" + shard(day) + "/" + replayPrefix + id + jsonSuffix
}

// EvidenceForLog maps a signature log path to its evidence bundle path.
func EvidenceForLog(logPath string) (string, bool) {
	id, ok := LogCycleID(logPath)
	if !ok {
		return "", false
	}
	dir := strings.TrimPrefix(path.Dir(logPath), SignatureLogs)
	return CycleEvidence + dir + "/" + evidencePrefix + id + jsonSuffix, true
}

// LogCycleID returns the cycle id of a signature log path.
func LogCycleID(p string) (string, bool) {
	if !strings.HasPrefix(p, SignatureLogs+"/") {
		return "", false
	}
	base := path.Base(p)
	id, ok := strings.CutPrefix(base, logPrefix)
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, jsonSuffix)
	return id, ok && cycleIDRe.MatchString(id)
}

// ShardDate is the date shard (YYYY/MM/DD) of a slot.
func ShardDate(t time.Time) string { return shard(t) }

// Kind returns the artifact kind of a path in a governance repository, as
// named in policies/signatures.yaml commit_signers, or "" for a path that is
// not governed (the repository's own README, say).
func Kind(p string) string {
	switch {
	case strings.HasPrefix(p, Governance+"/") && path.Base(p) == "README.md":
		return "governance_readme"
	case p == StateFile:
		return "operational_state"
	case p == StatusFile:
		return "operational_status"
	case p == Phase3Brief:
		return "phase3_brief"
	case strings.HasPrefix(p, SignatureLogs+"/"):
		return "signature_log"
	case strings.HasPrefix(p, CycleEvidence+"/"):
		return "cycle_evidence"
	case strings.HasPrefix(p, CostReports+"/"):
		return "cost_report"
	case strings.HasPrefix(p, Attestations+"/"):
		return "vega_attestation"
	case strings.HasPrefix(p, Deviations+"/"):
		return "deviation"
	case strings.HasPrefix(p, ChangeRequests+"/"):
		return "change_request"
	case strings.HasPrefix(p, Governance+"/"):
		return "governance_readme"
	case strings.HasPrefix(p, Policies+"/"):
		return "policy"
	case strings.HasPrefix(p, Baseline+"/"):
		return "baseline"
	}
	return ""
}

// Regenerated reports whether p is a regenerated (non-canonical) file under
// 05_GOVERNANCE/, the only ones that may be modified in place.
func Regenerated(p string) bool { return p == StateFile || p == StatusFile }

// SafeRelPath refuses a repository path that is absolute, empty or climbs
// out of the repository.
func SafeRelPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("path %q is not a clean relative repository path", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || seg == ".git" || seg == "" {
			return fmt.Errorf("path %q has a forbidden segment %q", p, seg)
		}
	}
	return nil
}
