package market

import (
	"context"
	"fmt"
	"os"
)

// csvSource reads candles from a CSV file (see ParseCSV) on every Fetch.
// The file holds a single series: Request.Symbol is checked for form only.
type csvSource struct{ path string }

func (s csvSource) Name() string { return "csv:" + s.path }

func (s csvSource) Fetch(ctx context.Context, req Request) ([]Candle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, notExistInput(fmt.Errorf("market %s: %w", s.Name(), err))
	}
	defer f.Close()
	c, err := ParseCSV(f)
	if err != nil {
		return nil, fmt.Errorf("market %s: %w", s.Name(), err)
	}
	return selectBefore("market "+s.Name(), c, req)
}
