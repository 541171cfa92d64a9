// Package clock injects time: every command takes its "now" from a Clock so
// that --now and time-travelled cycles (--at) behave exactly like real ones.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock, in UTC.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now().UTC() }

// Sim is a simulated clock: it starts at a fixed time and advances by Step
// on every reading, so a time-travelled cycle's operations get distinct,
// reproducible timestamps.
type Sim struct {
	mu   sync.Mutex
	t    time.Time
	Step time.Duration
}

// NewSim returns a simulated clock at t stepping by step.
func NewSim(t time.Time, step time.Duration) *Sim { return &Sim{t: t.UTC(), Step: step} }

// Now implements Clock.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.t
	s.t = s.t.Add(s.Step)
	return t
}
