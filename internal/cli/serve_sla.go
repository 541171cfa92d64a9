package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/sla"
)

// slaTick is the SLA engine as `vios serve` calls it every minute: one
// sla.Tick on the server's repository handle with the sinks the policy
// configures. It is the only place serve touches the sla package, so that
// package's API can change here alone.
func (g *Globals) slaTick(r *ledger.Repo, code *signing.Signer) (func(ctx context.Context, now time.Time) error, error) {
	sinks, err := g.sinks(r)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, now time.Time) error {
		rep, err := sla.Tick(ctx, r, code, sinks, now)
		if err != nil {
			return err
		}
		if rep.Failed > 0 {
			return fmt.Errorf("sla tick: %d deliveries failed; recorded, the next tick retries", rep.Failed)
		}
		return nil
	}, nil
}
