package market

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// binanceSource reads daily klines from the Binance public REST API.
type binanceSource struct {
	endpoint string // base + /api/v3/klines
	client   *http.Client
	timeout  time.Duration
	retries  int
	backoff  time.Duration
}

const (
	defaultBackoff = 500 * time.Millisecond
	maxBackoff     = 30 * time.Second // also caps an honoured Retry-After
	maxBodyBytes   = 8 << 20          // 1000 klines are about 200 KB
)

func newBinance(opt Options) (*binanceSource, error) {
	base := opt.BinanceBaseURL
	if base == "" {
		base = DefaultBinanceBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fault.Inputf("binance base url %s: %v", quoteShort(base), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fault.Inputf("binance base url %s: want http(s)://host[/path]", quoteShort(base))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fault.Inputf("binance base url %s: must not carry a query, fragment or user info", quoteShort(base))
	}
	if opt.Timeout < 0 {
		return nil, fault.Inputf("binance timeout %s: must be positive", opt.Timeout)
	}
	if opt.Retries > maxRetries {
		return nil, fault.Inputf("binance retries %d: at most %d", opt.Retries, maxRetries)
	}
	s := &binanceSource{
		endpoint: strings.TrimRight(u.String(), "/") + "/api/v3/klines",
		client:   opt.HTTPClient,
		timeout:  opt.Timeout,
		retries:  opt.Retries,
		backoff:  opt.backoff,
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	switch {
	case s.retries == 0:
		s.retries = DefaultRetries
	case s.retries < 0:
		s.retries = 0
	}
	if s.backoff <= 0 {
		s.backoff = defaultBackoff
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: s.timeout}
	}
	return s, nil
}

func (s *binanceSource) Name() string { return "binance" }

// Fetch asks for the req.Limit daily bars ending with the last one that
// closes before the slot: endTime is that bar's close time (for a slot at
// midnight, slot-1ms), so an unfinished day is never counted against the
// limit. Bars closing at or after the slot are dropped all the same.
func (s *binanceSource) Fetch(ctx context.Context, req Request) ([]Candle, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	end := lastClosedOpen(req.Slot).Add(Day - time.Millisecond)
	q := url.Values{}
	q.Set("symbol", req.Symbol)
	q.Set("interval", req.Interval)
	q.Set("endTime", strconv.FormatInt(end.UnixMilli(), 10))
	q.Set("limit", strconv.Itoa(req.Limit))
	target := s.endpoint + "?" + q.Encode()

	attempts := s.retries + 1
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		body, wait, err := s.get(ctx, target)
		if err == nil {
			c, err := ParseKlines(body)
			if err != nil {
				return nil, fmt.Errorf("binance: %w", err)
			}
			return selectBefore("binance", c, req)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("binance: %w", ctx.Err())
		}
		if wait < 0 { // not retryable
			return nil, err
		}
		last = err
		if attempt == attempts {
			break
		}
		if wait == 0 {
			wait = s.backoff << (attempt - 1)
		}
		if wait > maxBackoff {
			wait = maxBackoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("binance: %w (while waiting to retry after: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
	return nil, fmt.Errorf("binance: gave up after %d attempt(s): %v", attempts, last)
}

// get performs one attempt. On failure wait is negative for a final error,
// and otherwise the delay the server asked for (0: use the backoff).
func (s *binanceSource) get(ctx context.Context, target string) (body []byte, wait time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return nil, -1, fault.Inputf("binance: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		timedOut := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
		if timedOut && ctx.Err() == nil {
			return nil, 0, fmt.Errorf("request timed out after %s", s.timeout)
		}
		return nil, 0, stripURLError(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, 0, fmt.Errorf("HTTP %d: reading body timed out after %s", resp.StatusCode, s.timeout)
		}
		return nil, 0, fmt.Errorf("HTTP %d: reading body: %v", resp.StatusCode, err)
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusOK:
		if len(body) > maxBodyBytes {
			return nil, -1, fmt.Errorf("binance: body larger than %d bytes", maxBodyBytes)
		}
		return body, 0, nil
	case code == http.StatusTooManyRequests || code == http.StatusTeapot || code >= 500:
		return nil, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %d: %s", code, apiError(body))
	case code >= 400:
		return nil, -1, fault.Inputf("binance: HTTP %d: %s", code, apiError(body))
	default:
		return nil, -1, fmt.Errorf("binance: unexpected HTTP %d: %s", code, apiError(body))
	}
}

// apiError renders a Binance error body {"code":-1121,"msg":"Invalid
// symbol."}, or a short quote of any other body.
func apiError(body []byte) string {
	var e struct {
		Code *int64  `json:"code"`
		Msg  *string `json:"msg"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != nil && e.Msg != nil {
		return fmt.Sprintf("code %d: %s", *e.Code, quoteMax(*e.Msg, 200))
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return "empty body"
	}
	return "body " + quoteMax(strings.TrimSpace(string(body)), 80)
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unusable.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return time.Millisecond // "retry now": still yield a moment
		}
		if n > int64(maxBackoff/time.Second) {
			return maxBackoff
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		d := time.Until(t)
		if d <= 0 {
			return time.Millisecond
		}
		return min(d, maxBackoff)
	}
	return 0
}

// stripURLError keeps the cause of a transport error and a short URL form.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("GET %s: %v", ue.URL, ue.Err)
	}
	return err
}
