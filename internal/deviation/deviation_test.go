package deviation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
)

var t0 = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

func record(t *testing.T) *deviation.Record {
	t.Helper()
	p, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	d, err := deviation.New(p, deviation.SignatureFailure, "75c6040e1e25f939", "75c6040e1e25f939", "FINN's signature failed", t0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewRecord(t *testing.T) {
	d := record(t)
	if d.ID != "DEV-signature_verification_failure-75c6040e1e25f939" || d.DueAt != "2026-11-24T14:00:00Z" || d.Status != deviation.StatusOpen ||
		d.Severity != "critical" || d.Action != "halt" || len(d.Events) != 1 || d.Events[0].Type != deviation.EventDetected {
		t.Fatalf("record %+v", d)
	}
	p, _ := policy.Defaults()
	if _, err := deviation.New(p, "coffee_spill", "x", "", "", t0); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestParseRoundTripAndStrictness(t *testing.T) {
	d := record(t)
	of := 1
	d.Append(deviation.Event{At: t0.Format(time.RFC3339), Type: deviation.EventAlert, By: "CODE", Deliveries: []deviation.Delivery{{Sink: "stderr", Attempts: 1, LastError: "x"}}},
		deviation.Event{At: t0.Format(time.RFC3339), Type: deviation.EventRedelivery, By: "CODE", Of: &of, Deliveries: []deviation.Delivery{{Sink: "stderr", Attempts: 1, DeliveredAt: "t"}}})
	got, err := deviation.Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := deviation.Extends(record(t), got); err != nil {
		t.Fatalf("a record with appended events does not extend its first version: %v", err)
	}
	for name, data := range map[string]string{
		"unknown field": strings.Replace(string(d.Marshal()), `"status"`, `"colour": "red", "status"`, 1),
		"trailing data": string(d.Marshal()) + "{}",
		"bad id":        strings.Replace(string(d.Marshal()), `"id": "DEV-`, `"id": "../`, 1),
		"no detection":  strings.Replace(string(d.Marshal()), `"type": "detected"`, `"type": "alert"`, 1),
		"not json":      "DEV",
	} {
		if _, err := deviation.Parse([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStatusFollowsEvents(t *testing.T) {
	d := record(t)
	ts := t0.Add(2 * time.Hour).Format(time.RFC3339)
	d.Append(deviation.Event{At: ts, Type: deviation.EventBreached, By: "CODE"})
	if d.Status != deviation.StatusEscalated || d.BreachedAt != ts || !d.Open() {
		t.Fatalf("after a breach: %s %s", d.Status, d.BreachedAt)
	}
	d.Append(deviation.Event{At: ts, Type: deviation.EventResolved, By: "LARS"})
	if d.Status != deviation.StatusResolved || d.ResolvedAt != ts || d.Open() || d.BreachedAt != ts {
		t.Fatalf("after resolution: %s %s", d.Status, d.ResolvedAt)
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"DEV-signature_verification_failure-75c6040e1e25f939": true,
		"DEV-adr_compliance_failure-ATTEST-20261108":          true,
		"DEV-x-../../etc": false,
		"dev-x-1":         false,
		"DEV-x-":          false,
		"DEV-x-a/b":       false,
	} {
		err := deviation.CheckID(id)
		if (err == nil) != ok || (err != nil && !fault.IsInput(err)) {
			t.Errorf("CheckID(%q) = %v", id, err)
		}
	}
}
