package sla

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
)

// Sink delivers deviation notifications somewhere people see them.
type Sink interface {
	// Name identifies the sink in delivery records: stable across runs and
	// free of secrets ("stderr", "webhook:hooks.example.com#1a2b3c4d",
	// "github:owner/repo").
	Name() string
	// Send delivers one notification. Attempts counts the requests made;
	// Ref is the sink's handle for the deviation (a GitHub issue number),
	// kept in the delivery record and handed back on later sends.
	Send(ctx context.Context, n *Notification) (Receipt, error)
}

// Receipt is what a sink reports about one send.
type Receipt struct {
	Attempts int
	Ref      string
}

// Notification is one event of one deviation, on its way to one sink. No
// batching: a notification is always about exactly one deviation.
type Notification struct {
	// Deviation is the record with the event already in its history.
	Deviation *deviation.Record
	// Event is the event announced (for a redelivery, the original event).
	Event deviation.Event
	// Index is the event's position in the history; with the deviation id it
	// identifies the notification across retries.
	Index int
	// Ref is the sink's own handle for this deviation from an earlier
	// delivery ("" if none).
	Ref string
	// Retry is set when an earlier attempt to this sink failed, so the sink
	// may already have received it (an ambiguous timeout).
	Retry bool
	// Text is the human-readable line (Slack's text).
	Text   string
	SentAt time.Time
}

// Recipients are the event's recipients, else the deviation's.
func (n *Notification) Recipients() []string {
	if len(n.Event.Recipients) > 0 {
		return n.Event.Recipients
	}
	return n.Deviation.Recipients
}

// Severity is the event's severity, else the deviation's.
func (n *Notification) Severity() string {
	if n.Event.Severity != "" {
		return n.Event.Severity
	}
	return n.Deviation.Severity
}

// Sink types in policies/governance.yaml alert_sinks.
const (
	SinkStderr  = "stderr"
	SinkWebhook = "webhook"
	SinkGitHub  = "github"
)

// SinkOptions tune the sinks built from the policy.
type SinkOptions struct {
	// Stderr receives the stderr sink's lines (default os.Stderr).
	Stderr io.Writer
	// Getenv reads secrets: the webhook's secret_env and GITHUB_TOKEN
	// (default os.Getenv).
	Getenv func(string) string
	// Timeout bounds one HTTP request (default 5s).
	Timeout time.Duration
	// Attempts bounds the webhook's requests per send (default 3).
	Attempts int
	// Backoff is the webhook's first pause between attempts, doubled after
	// each (default 250ms).
	Backoff time.Duration
	// Transport, when set, carries the HTTP requests (tests).
	Transport http.RoundTripper
}

func (o SinkOptions) withDefaults() SinkOptions {
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	return o
}

func (o SinkOptions) client() *http.Client {
	return &http.Client{Timeout: o.Timeout, Transport: o.Transport}
}

// NewSinks builds the alert sinks of policies/governance.yaml. A sink that
// cannot work as configured (unknown type, a webhook URL that is not
// http(s), a GitHub sink without owner/repo) is a configuration error
// (exit 2). Missing secrets are not: those sends fail, are recorded and are
// retried, so a deviation is never lost to a misconfigured sink.
func NewSinks(cfg []policy.AlertSink, opt SinkOptions) ([]Sink, error) {
	opt = opt.withDefaults()
	out := make([]Sink, 0, len(cfg))
	seen := map[string]bool{}
	for i, c := range cfg {
		where := fmt.Sprintf("policies/governance.yaml: alert_sinks[%d] (%s)", i, c.Type)
		var s Sink
		switch c.Type {
		case SinkStderr:
			if c.URL != "" || c.Secret != "" || c.Repo != "" {
				return nil, fault.Inputf("%s: takes no url, secret_env or repo", where)
			}
			s = &stderrSink{w: opt.Stderr}
		case SinkWebhook:
			u, err := httpURL(c.URL)
			if err != nil {
				return nil, fault.Inputf("%s: url: %v", where, err)
			}
			if c.Repo != "" {
				return nil, fault.Inputf("%s: takes no repo", where)
			}
			s = &webhookSink{url: u.String(), name: "webhook:" + u.Host + "#" + shortHash(u.String()), secretEnv: c.Secret, opt: opt, client: opt.client()}
		case SinkGitHub:
			g, err := newGitHubSink(c, opt)
			if err != nil {
				return nil, fault.Inputf("%s: %v", where, err)
			}
			s = g
		default:
			return nil, fault.Inputf("%s: unknown sink type %q (stderr, webhook or github)", where, c.Type)
		}
		if seen[s.Name()] {
			return nil, fault.Inputf("%s: the same sink is configured twice", where)
		}
		seen[s.Name()] = true
		out = append(out, s)
	}
	return out, nil
}

// httpURL accepts only absolute http and https URLs with a host.
func httpURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("missing (want an http or https URL)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q: want an http or https URL with a host and no credentials", redact(u))
	}
	return u, nil
}

// redact keeps a URL's scheme and host: webhook paths often carry secrets.
func redact(u *url.URL) string {
	if u.Host == "" {
		return u.Scheme + ":…"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// stderrSink writes one line per notification.
type stderrSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *stderrSink) Name() string { return SinkStderr }

func (s *stderrSink) Send(_ context.Context, n *Notification) (Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := fmt.Fprintf(s.w, "vios: deviation %s: %s\n", strings.ToUpper(n.Event.Type), n.Text)
	return Receipt{Attempts: 1}, err
}
