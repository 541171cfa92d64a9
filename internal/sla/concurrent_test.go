package sla_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/sla"
)

// slowSink is a fakeSink that takes a while per notification, so that
// ticks that were not serialised would overlap while sending.
type slowSink struct {
	fakeSink
	delay time.Duration
}

func (s *slowSink) Send(ctx context.Context, n *sla.Notification) (sla.Receipt, error) {
	time.Sleep(s.delay)
	return s.fakeSink.Send(ctx, n)
}

// TestConcurrentTicksSendOnce: ticks started together on one repository
// (cron runs that overlap, each its own process with its own handle) hold
// the repository lock from reading the records to committing what they
// sent, so every deviation gets exactly one alert, recorded once, in one
// commit; the ticks that waited find nothing due.
func TestConcurrentTicksSendOnce(t *testing.T) {
	e := newEnv(t)
	const n, ticks = 12, 4
	recs := e.open(t, deviation.CostCeiling, n, detected)
	sink := &slowSink{fakeSink: fakeSink{name: "fake"}, delay: 2 * time.Millisecond}
	before, _ := e.r.Head()
	at := detected.Add(time.Minute)

	var wg sync.WaitGroup
	reps := make([]*sla.TickReport, ticks)
	errs := make([]error, ticks)
	start := make(chan struct{})
	for k := 0; k < ticks; k++ {
		r, err := ledger.Open(e.r.Root())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			reps[k], errs[k] = sla.Tick(context.Background(), r, e.signers["CODE"], []sla.Sink{sink}, at)
		}()
	}
	close(start)
	wg.Wait()

	committed := 0
	for k := range reps {
		if errs[k] != nil {
			t.Fatalf("tick %d: %v", k, errs[k])
		}
		if reps[k].Commit != "" {
			committed++
			if reps[k].Changed != n || reps[k].Delivered != n {
				t.Errorf("the committing tick: %+v", reps[k])
			}
		} else if reps[k].Changed != 0 || len(reps[k].Events) != 0 {
			t.Errorf("tick %d sent %d events without committing them", k, len(reps[k].Events))
		}
	}
	if committed != 1 {
		t.Fatalf("%d ticks committed, want 1", committed)
	}
	alerts := map[string]int{}
	for _, s := range sink.sent() {
		if s.event == deviation.EventAlert {
			alerts[s.id]++
		}
	}
	for _, d := range recs {
		if alerts[d.ID] != 1 {
			t.Errorf("%s: %d alerts sent, want 1", d.ID, alerts[d.ID])
		}
		got := e.record(t, d.ID)
		k := 0
		for _, ev := range got.Events {
			if ev.Type == deviation.EventAlert {
				k++
			}
		}
		if k != 1 {
			t.Errorf("%s: %d alert events recorded, want 1: %v", d.ID, k, types(got))
		}
	}
	if len(alerts) != n {
		t.Errorf("alerts went to %d deviations, want %d", len(alerts), n)
	}
	head, _ := e.r.Head()
	c, err := e.r.Commit(head)
	if err != nil || len(c.ParentHashes) != 1 || c.ParentHashes[0] != before {
		t.Fatalf("want one tick commit on top of %s, HEAD %s: %v", before, head, err)
	}
}
