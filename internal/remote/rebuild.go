package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/state"
)

// reapply is the generic Rebuilder: it re-applies what old changed on top
// of HEAD and signs the commit again with the key of the agent its
// Vios-Agent trailer names. See the package documentation for the rules.
func (s *syncer) reapply(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
	files, err := Reapplied(r, old)
	if err != nil || len(files) == 0 {
		return err // nothing left to apply: the remote already has it
	}
	agent := trailer(old.Message, "Vios-Agent")
	if agent == "" {
		return fmt.Errorf("commit %s has no Vios-Agent trailer: no key to sign it again with", short(old.Hash))
	}
	if s.opt.Signer == nil {
		return fmt.Errorf("commit %s: no signer configured to sign it again as %s", short(old.Hash), agent)
	}
	signer, err := s.opt.Signer(agent)
	if err != nil {
		return fmt.Errorf("commit %s: key of %s: %w", short(old.Hash), agent, err)
	}
	head, err := r.Head()
	if err != nil {
		return err
	}
	subject, body, trailers := ParseMessage(old.Message)
	_, err = r.Apply(ctx, &ledger.Change{
		Subject: subject, Body: body, Trailers: trailers, Files: files,
		Author: ledger.Person{Name: old.Author.Name, Email: old.Author.Email},
		When:   old.Author.When, Signer: signer, Parent: head,
	})
	return err
}

// Reapplied returns the files commit old must write on r's HEAD to carry
// its change there, nil when HEAD already holds it. A deleted file, or a
// file (or state field) changed differently on both sides, is an error
// (*ConflictError for the latter); OPERATIONAL_STATE.json is merged field
// by field and OPERATIONAL_STATUS.md, regenerated, is taken from old.
func Reapplied(r *ledger.Repo, old *object.Commit) ([]ledger.File, error) {
	if len(old.ParentHashes) != 1 {
		return nil, fmt.Errorf("commit %s has %d parents; only a linear artifact commit can be re-created", short(old.Hash), len(old.ParentHashes))
	}
	parent, err := r.Commit(old.ParentHashes[0])
	if err != nil {
		return nil, err
	}
	changes, err := r.DiffTrees(parent.TreeHash, old.TreeHash)
	if err != nil {
		return nil, err
	}
	head, err := r.Head()
	if err != nil {
		return nil, err
	}
	hc, err := r.Commit(head)
	if err != nil {
		return nil, err
	}
	var files []ledger.File
	for _, ch := range changes {
		if ch.To.IsZero() {
			return nil, fmt.Errorf("commit %s deletes %s; artifact commits only add files", short(old.Hash), ch.Path)
		}
		theirs, err := r.Lookup(hc.TreeHash, ch.Path)
		if errors.Is(err, ledger.ErrNotFound) {
			theirs = plumbing.ZeroHash
		} else if err != nil {
			return nil, err
		}
		if theirs == ch.To {
			continue
		}
		var data []byte
		switch {
		case ch.Path == layout.StateFile && !theirs.IsZero():
			if data, err = mergeState(r, ch.From, ch.To, theirs, old.Hash); err != nil {
				return nil, err
			}
			if data == nil {
				continue
			}
		case layout.Regenerated(ch.Path) || theirs == ch.From:
			if data, err = r.ReadBlob(ch.To); err != nil {
				return nil, err
			}
		default:
			return nil, &ConflictError{Path: ch.Path, Commit: old.Hash}
		}
		files = append(files, ledger.File{Path: ch.Path, Data: data})
	}
	return files, nil
}

// bookkeeping are state fields every writer stamps; the newest wins.
var bookkeeping = map[string]bool{"updated_at": true, "updated_by": true}

// mergeState merges a change of OPERATIONAL_STATE.json three ways: every
// field the local commit changed from base is applied to theirs, unless
// the remote changed it differently (a conflict naming the field). It
// returns nil when theirs already holds the change.
func mergeState(r *ledger.Repo, base, ours, theirs, commit plumbing.Hash) ([]byte, error) {
	var blobs [3][]byte
	for i, h := range []plumbing.Hash{base, ours, theirs} {
		if h.IsZero() {
			continue
		}
		data, err := r.ReadBlob(h)
		if err != nil {
			return nil, err
		}
		blobs[i] = data
	}
	return mergeStateJSON(blobs[0], blobs[1], blobs[2], commit)
}

// mergeStateJSON is mergeState on the three versions' bytes (nil: absent).
func mergeStateJSON(base, ours, theirs []byte, commit plumbing.Hash) ([]byte, error) {
	read := func(data []byte) (map[string]json.RawMessage, error) {
		m := map[string]json.RawMessage{}
		if data == nil {
			return m, nil
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", layout.StateFile, err)
		}
		return m, nil
	}
	b, err := read(base)
	if err != nil {
		return nil, err
	}
	o, err := read(ours)
	if err != nil {
		return nil, err
	}
	t, err := read(theirs)
	if err != nil {
		return nil, err
	}
	changed := false
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range o {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		bv, inB := b[k]
		ov, inO := o[k]
		tv, inT := t[k]
		if inB == inO && jsonEqual(bv, ov) {
			continue // not changed locally
		}
		if inT == inO && jsonEqual(tv, ov) {
			continue // the remote made the same change
		}
		if !(inT == inB && jsonEqual(tv, bv)) && !bookkeeping[k] {
			return nil, &ConflictError{Path: layout.StateFile, Field: k, Commit: commit}
		}
		if inO {
			t[k] = ov
		} else {
			delete(t, k)
		}
		changed = true
	}
	if !changed {
		return nil, nil
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	st, err := state.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("merged %s: %w", layout.StateFile, err)
	}
	return st.Marshal(), nil
}

func jsonEqual(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

var trailerRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$`)

// trailer returns the value of the last trailer key in a commit message.
func trailer(msg, key string) string {
	_, _, ts := ParseMessage(msg)
	v := ""
	for _, t := range ts {
		if t[0] == key {
			v = t[1]
		}
	}
	return v
}

// ParseMessage splits a commit message as ledger.Change renders it:
// subject line, body paragraphs, and a final paragraph of "Key: value"
// trailers.
func ParseMessage(msg string) (subject, body string, trailers [][2]string) {
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	subject = lines[0]
	var paras [][]string
	var cur []string
	for _, l := range lines[1:] {
		if l == "" {
			if cur != nil {
				paras = append(paras, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if cur != nil {
		paras = append(paras, cur)
	}
	if n := len(paras); n > 0 {
		last := paras[n-1]
		var ts [][2]string
		for _, l := range last {
			m := trailerRe.FindStringSubmatch(l)
			if m == nil {
				ts = nil
				break
			}
			ts = append(ts, [2]string{m[1], m[2]})
		}
		if ts != nil {
			trailers = ts
			paras = paras[:n-1]
		}
	}
	var b []string
	for _, p := range paras {
		b = append(b, strings.Join(p, "\n"))
	}
	return subject, strings.Join(b, "\n\n"), trailers
}

func firstLine(msg string) string {
	s, _, _ := strings.Cut(msg, "\n")
	return s
}
