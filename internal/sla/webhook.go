package sla

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WebhookPayload is the JSON body the webhook sink posts: a Slack-compatible
// text plus the structured fields a receiver can route on.
type WebhookPayload struct {
	Text        string   `json:"text"`
	DeviationID string   `json:"deviation_id"`
	Type        string   `json:"type"`
	Severity    string   `json:"severity"`
	Recipients  []string `json:"recipients"`
	Event       string   `json:"event"`
	EventIndex  int      `json:"event_index"`
	Status      string   `json:"status"`
	DetectedAt  string   `json:"detected_at"`
	// Due is the SLA deadline: root cause and remediation plan.
	Due string `json:"due"`
	// EventDue is the deadline of the timeline point the event answers.
	EventDue string `json:"event_due,omitempty"`
	CycleID  string `json:"cycle_id,omitempty"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	SentAt   string `json:"sent_at"`
}

// Webhook headers. The signature is "sha256=" and the hex HMAC-SHA256 of
// the body, keyed with the secret from the env var secret_env names; the
// delivery id (deviation id "#" event index) is the same on every retry,
// so a receiver can drop duplicates.
const (
	HeaderSignature = "X-Vios-Signature"
	HeaderDelivery  = "X-Vios-Delivery"
	HeaderEvent     = "X-Vios-Event"
)

// Sign returns the X-Vios-Signature value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Vios-Signature header in constant time.
func VerifySignature(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

type webhookSink struct {
	url       string
	name      string
	secretEnv string
	opt       SinkOptions
	client    *http.Client
}

func (s *webhookSink) Name() string { return s.name }

// Send posts the notification, retrying network errors, 408, 429 and 5xx
// with exponential backoff, each request bounded by the timeout.
func (s *webhookSink) Send(ctx context.Context, n *Notification) (Receipt, error) {
	var secret []byte
	if s.secretEnv != "" {
		v := s.opt.Getenv(s.secretEnv)
		if v == "" {
			return Receipt{}, fmt.Errorf("webhook: secret_env %s is not set; refusing to send unsigned", s.secretEnv)
		}
		secret = []byte(v)
	}
	d := n.Deviation
	body, err := json.Marshal(WebhookPayload{
		Text: n.Text, DeviationID: d.ID, Type: d.Type, Severity: n.Severity(), Recipients: n.Recipients(),
		Event: n.Event.Type, EventIndex: n.Index, Status: d.Status, DetectedAt: d.DetectedAt, Due: d.DueAt,
		EventDue: n.Event.Due, CycleID: d.CycleID, Reason: d.Reason, Detail: n.Event.Detail,
		SentAt: n.SentAt.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("webhook: encode: %w", err)
	}
	var rc Receipt
	pause := s.opt.Backoff
	for {
		rc.Attempts++
		retry, err := s.post(ctx, body, secret, n)
		if err == nil {
			return rc, nil
		}
		if !retry || rc.Attempts >= s.opt.Attempts || ctx.Err() != nil {
			return rc, fmt.Errorf("webhook %s: %w (after %d attempt(s))", s.name, err, rc.Attempts)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return rc, fmt.Errorf("webhook %s: %w (after %d attempt(s))", s.name, err, rc.Attempts)
		case <-t.C:
		}
		pause *= 2
	}
}

// post makes one request; retry says whether another attempt may succeed.
func (s *webhookSink) post(ctx context.Context, body, secret []byte, n *Notification) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vios-sla")
	req.Header.Set(HeaderDelivery, n.Deviation.ID+"#"+strconv.Itoa(n.Index))
	req.Header.Set(HeaderEvent, n.Event.Type)
	if secret != nil {
		req.Header.Set(HeaderSignature, Sign(secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return true, fmt.Errorf("no answer within %s", s.opt.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: its path may be a secret
		}
		return true, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	retry = resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, fmt.Errorf("receiver answered %s", resp.Status)
}
