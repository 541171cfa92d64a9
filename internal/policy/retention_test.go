package policy_test

import (
	"strings"
	"testing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
)

func TestSignatureLogRetention(t *testing.T) {
	p, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Signatures.LogRetentionDays(); got != 365 || p.Signatures.RetentionDays != 365 {
		t.Fatalf("default retention %d (field %d), want 365", got, p.Signatures.RetentionDays)
	}
	for _, tc := range []struct {
		days int
		ok   bool
	}{{0, true}, {365, true}, {3650, true}, {364, false}, {-1, false}, {1 << 30, false}} {
		p.Signatures.RetentionDays = tc.days
		err := p.Validate()
		if tc.ok != (err == nil) || (err != nil && (!fault.IsInput(err) || !strings.Contains(err.Error(), "retention_days"))) {
			t.Errorf("retention_days %d: %v", tc.days, err)
		}
	}
	p.Signatures.RetentionDays = 0
	if got := p.Signatures.LogRetentionDays(); got != 365 {
		t.Fatalf("unset retention_days means %d days, want 365", got)
	}
}
