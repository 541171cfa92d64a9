package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/signing"
)

// ErrTagExists is returned when a tag to be created already exists: tags
// name baselines and are never moved.
var ErrTagExists = errors.New("tag already exists")

// Tag is a signed annotated tag.
type Tag struct {
	Name    string // without refs/tags/, e.g. "baseline/v1.0"
	Target  plumbing.Hash
	Message string
	Tagger  Person
	When    time.Time
	Signer  *signing.SSHSigner
}

// CreateTag writes a signed annotated tag object pointing at a commit and
// creates refs/tags/<Name>. The signature is git's SSH format over the tag
// without its signature, so `git verify-tag` accepts it. An existing tag is
// refused with ErrTagExists; the ref is written last and atomically.
func (r *Repo) CreateTag(ctx context.Context, t *Tag) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}
	if t.Signer == nil {
		return plumbing.ZeroHash, errors.New("tag: no signer")
	}
	ref := plumbing.NewTagReferenceName(t.Name)
	if err := ref.Validate(); err != nil || t.Name == "" {
		return plumbing.ZeroHash, fault.Inputf("tag %q: not a valid tag name", t.Name)
	}
	if _, err := r.storage.Reference(ref); err == nil {
		return plumbing.ZeroHash, fault.Input(fmt.Errorf("tag %s: %w", t.Name, ErrTagExists))
	}
	if _, err := r.Commit(t.Target); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("tag %s: target %s: %w", t.Name, short(t.Target), err)
	}
	msg := t.Message
	if msg == "" || msg[len(msg)-1] != '\n' {
		msg += "\n" // the signature follows the message directly
	}
	tag := &object.Tag{
		Name:       t.Name,
		Tagger:     object.Signature{Name: t.Tagger.Name, Email: t.Tagger.Email, When: t.When},
		Message:    msg,
		TargetType: plumbing.CommitObject,
		Target:     t.Target,
	}
	var err error
	if tag.PGPSignature, err = sshSign(tag.EncodeWithoutSignature, t.Signer); err != nil {
		return plumbing.ZeroHash, err
	}
	obj := &plumbing.MemoryObject{}
	if err := tag.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	p := newPending()
	h := p.add(obj)
	if err := r.writePack(p); err != nil {
		return plumbing.ZeroHash, err
	}
	r.remember(p)
	if err := r.createRef(ref, h); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("tag %s: %w", t.Name, err)
	}
	return h, nil
}

// createRef writes a new loose ref the way git does (lock file, rename),
// refusing one that exists meanwhile.
func (r *Repo) createRef(name plumbing.ReferenceName, h plumbing.Hash) error {
	return r.lockedRefWrite(name, h, func() (bool, error) {
		if _, err := r.storage.Reference(name); err == nil {
			return false, ErrTagExists
		}
		return true, nil
	})
}
