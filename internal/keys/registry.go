package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Key statuses of the registry (ADR-008).
const (
	StatusPending    = "PENDING"
	StatusActive     = "ACTIVE"
	StatusDeprecated = "DEPRECATED"
	StatusArchived   = "ARCHIVED"
)

// Entry is one public key of the agent registry.
type Entry struct {
	Agent      string  `json:"agent"`
	KeyID      string  `json:"key_id"`
	Algorithm  string  `json:"algorithm"`
	PublicKey  string  `json:"public_key"`
	Status     string  `json:"status"`
	ValidFrom  string  `json:"valid_from"`
	ValidUntil *string `json:"valid_until"`

	pub   ed25519.PublicKey
	from  time.Time
	until time.Time // zero: open-ended
}

// Public returns the parsed public key.
func (e *Entry) Public() ed25519.PublicKey { return e.pub }

// ValidAt reports whether the key may have signed at t: not PENDING and
// inside its validity window.
func (e *Entry) ValidAt(t time.Time) bool {
	if e.Status == StatusPending || t.Before(e.from) {
		return false
	}
	return e.until.IsZero() || t.Before(e.until)
}

// Registry is policies/keys/agents.json.
type Registry struct {
	Agents []Entry `json:"agents"`

	byKey map[string]int
}

// NewRegistry builds a registry with one ACTIVE key per signer, valid from t.
func NewRegistry(signers map[string]*signing.Signer, t time.Time) *Registry {
	r := &Registry{}
	for _, a := range policy.Agents {
		s, ok := signers[a]
		if !ok {
			continue
		}
		r.Agents = append(r.Agents, Entry{
			Agent:     a,
			KeyID:     signing.KeyID(a, s.Public()),
			Algorithm: "ed25519",
			PublicKey: signing.FormatKey(s.Public()),
			Status:    StatusActive,
			ValidFrom: t.UTC().Format(time.RFC3339),
		})
	}
	if err := r.index(); err != nil {
		panic(err) // built from valid keys: cannot fail
	}
	return r
}

// ParseRegistry strictly parses and validates agents.json.
func ParseRegistry(data []byte) (*Registry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Registry
	if err := dec.Decode(&r); err != nil {
		return nil, fault.Inputf("policies/keys/agents.json: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fault.Inputf("policies/keys/agents.json: trailing data after the JSON object")
	}
	if err := r.index(); err != nil {
		return nil, fault.Inputf("policies/keys/agents.json: %v", err)
	}
	return &r, nil
}

func (r *Registry) index() error {
	r.byKey = make(map[string]int, len(r.Agents))
	ids := map[string]bool{}
	for i := range r.Agents {
		e := &r.Agents[i]
		if !policy.IsAgent(e.Agent) {
			return fmt.Errorf("entry %d: unknown agent %q", i, e.Agent)
		}
		if e.Algorithm != "ed25519" {
			return fmt.Errorf("entry %d (%s): algorithm %q, ADR-008 allows ed25519 only", i, e.Agent, e.Algorithm)
		}
		pub, err := signing.ParseKey(e.PublicKey)
		if err == nil {
			err = signing.CheckPublicKey(pub)
		}
		if err != nil {
			return fmt.Errorf("entry %d (%s): %v", i, e.Agent, err)
		}
		e.pub = pub
		switch e.Status {
		case StatusPending, StatusActive, StatusDeprecated, StatusArchived:
		default:
			return fmt.Errorf("entry %d (%s): status %q", i, e.Agent, e.Status)
		}
		if e.KeyID == "" || ids[e.KeyID] {
			return fmt.Errorf("entry %d (%s): key_id %q empty or duplicated", i, e.Agent, e.KeyID)
		}
		ids[e.KeyID] = true
		if e.from, err = time.Parse(time.RFC3339, e.ValidFrom); err != nil {
			return fmt.Errorf("entry %d (%s): valid_from: %v", i, e.Agent, err)
		}
		e.until = time.Time{}
		if e.ValidUntil != nil {
			if e.until, err = time.Parse(time.RFC3339, *e.ValidUntil); err != nil {
				return fmt.Errorf("entry %d (%s): valid_until: %v", i, e.Agent, err)
			}
			if !e.until.After(e.from) {
				return fmt.Errorf("entry %d (%s): valid_until is not after valid_from", i, e.Agent)
			}
		}
		k := string(pub)
		if _, dup := r.byKey[k]; dup {
			return fmt.Errorf("entry %d (%s): public key listed twice", i, e.Agent)
		}
		r.byKey[k] = i
	}
	return nil
}

// Marshal writes the registry as indented JSON.
func (r *Registry) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// Lookup returns the entry of agent whose key is pub, if any.
func (r *Registry) Lookup(agent string, pub ed25519.PublicKey) (*Entry, bool) {
	i, ok := r.byKey[string(pub)]
	if !ok || r.Agents[i].Agent != agent {
		return nil, false
	}
	return &r.Agents[i], true
}

// ByKey returns the entry that holds pub, whatever its agent.
func (r *Registry) ByKey(pub ed25519.PublicKey) (*Entry, bool) {
	i, ok := r.byKey[string(pub)]
	if !ok {
		return nil, false
	}
	return &r.Agents[i], true
}

// KeyAt returns the registry entry of agent holding pub if that key was
// valid at t (so both keys verify during a rotation overlap).
func (r *Registry) KeyAt(agent string, pub ed25519.PublicKey, t time.Time) (*Entry, bool) {
	e, ok := r.Lookup(agent, pub)
	if !ok || !e.ValidAt(t) {
		return nil, false
	}
	return e, true
}

// Current returns agent's key valid at t (the newest when windows overlap).
func (r *Registry) Current(agent string, t time.Time) (*Entry, bool) {
	var best *Entry
	for i := range r.Agents {
		e := &r.Agents[i]
		if e.Agent == agent && e.ValidAt(t) && (best == nil || e.from.After(best.from)) {
			best = e
		}
	}
	return best, best != nil
}

// Principal is the allowed_signers principal of an agent.
func Principal(agent string) string { return strings.ToLower(agent) + "@vision-ios.agents" }

// AllowedSigners renders git's SSH allowed_signers file: one line per
// registry key, namespace git, with the validity window of the key.
func (r *Registry) AllowedSigners() []byte {
	var b bytes.Buffer
	b.WriteString("# Generated from policies/keys/agents.json by vios. Do not edit.\n")
	b.WriteString("# git -c gpg.ssh.allowedSignersFile=policies/keys/allowed_signers log --show-signature\n")
	entries := append([]Entry(nil), r.Agents...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Agent < entries[j].Agent })
	for _, e := range entries {
		if e.Status == StatusPending {
			continue
		}
		ak, err := signing.AuthorizedKey(e.pub)
		if err != nil {
			continue
		}
		opts := `namespaces="git",valid-after="` + e.from.UTC().Format("20060102150405") + `Z"`
		if !e.until.IsZero() {
			opts += `,valid-before="` + e.until.UTC().Format("20060102150405") + `Z"`
		}
		fmt.Fprintf(&b, "%s %s %s\n", Principal(e.Agent), opts, ak)
	}
	return b.Bytes()
}
