package audit

import (
	"context"

	"github.com/vision-ios/vios/internal/ledger"
)

// VerifyOneByOne is Verify with every signature verified on its own.
func VerifyOneByOne(ctx context.Context, r *ledger.Repo, opt Options) (*Report, error) {
	opt.oneByOne = true
	return Verify(ctx, r, opt)
}
