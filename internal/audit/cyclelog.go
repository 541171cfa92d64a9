package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// cycleLog checks one added signature log: its operation signatures
// against the registry, the lineage inside the cycle, and the evidence
// bundle committed with it.
func (c *checker) cycleLog(cm *object.Commit, ch change, res *commitResult, fail func(file, check, format string, args ...any)) {
	data, err := c.blob(ch.blob)
	if err != nil {
		fail(ch.path, "signature-log", "read: %v", err)
		return
	}
	lg, err := cycle.ParseLog(data)
	if err != nil {
		fail(ch.path, "signature-log", "%v", err)
		return
	}
	id, _ := layout.LogCycleID(ch.path)
	if lg.CycleID != id {
		fail(ch.path, "signature-log", "log names cycle %s but its file name says %s", lg.CycleID, id)
		return
	}
	link := cycleLink{path: ch.path, cycleID: id}
	if len(lg.Operations) > 0 {
		link.firstParent = lg.Operations[0].ParentHash
	}
	var parent *string
	for i, op := range lg.Operations {
		if i > 0 && !samePtr(op.ParentHash, parent) {
			fail(ch.path, "lineage", "step %d parent_hash %s does not match step %d lineage %s", op.Step, show(op.ParentHash), lg.Operations[i-1].Step, show(parent))
		}
		if got := signing.Lineage(op.ParentHash, op.OperationOutputHash, op.Signature); got != op.LineageHash {
			fail(ch.path, "lineage", "step %d lineage_hash does not recompute", op.Step)
		}
		l := op.LineageHash
		parent = &l
		if err := c.verifyOperation(lg.CycleID, op); err != nil {
			res.opsBad++
			if op.Verified {
				fail(ch.path, "operation-signature", "step %d %s by %s: %v", op.Step, op.Operation, op.Agent, err)
			}
			continue
		}
		res.opsOK++
		if !op.Verified {
			fail(ch.path, "operation-signature", "step %d is recorded as failed but verifies: the log is inconsistent", op.Step)
		}
	}
	link.last = parent
	if len(lg.Operations) == 0 {
		link.last = nil
	}
	res.logs = append(res.logs, link)

	evPath, _ := layout.EvidenceForLog(ch.path)
	evData, err := c.fileBlob(cm.TreeHash, evPath)
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			fail(evPath, "evidence", "evidence bundle for cycle %s is missing", id)
		} else {
			fail(evPath, "evidence", "read: %v", err)
		}
		return
	}
	res.evidence++
	ev, err := c.evidence.Parse(evData)
	if err == nil {
		err = checkEvidence(lg, ev)
	}
	if err != nil {
		fail(evPath, "evidence", "%v", err)
	}
}

// readFile reads path below tree root through the decoded-tree cache.
func (c *checker) readFile(root plumbing.Hash, path string) ([]byte, error) {
	h, err := c.lookup(root, path)
	if err != nil {
		return nil, err
	}
	return c.r.ReadBlob(h)
}

// fileBlob is readFile into the checker's blob buffer (see blob).
func (c *checker) fileBlob(root plumbing.Hash, path string) ([]byte, error) {
	h, err := c.lookup(root, path)
	if err != nil {
		return nil, err
	}
	return c.blob(h)
}

// blob reads a blob into the checker's blob buffer (see object).
func (c *checker) blob(h plumbing.Hash) ([]byte, error) {
	return c.object(h, plumbing.BlobObject, &c.blobBuf)
}

// object reads object h, which must be of type want, into *buf, handed back
// to ReadTyped from read to read: the result is valid until the next read
// into the same buffer, so it must be parsed (which copies what it keeps)
// before then.
func (c *checker) object(h plumbing.Hash, want plumbing.ObjectType, buf *[]byte) ([]byte, error) {
	data, err := c.r.ReadTyped(h, want, *buf)
	*buf = data // nil after a failed read: ReadObject may have kept the buffer
	if err != nil {
		return nil, err
	}
	return data, nil
}

func (c *checker) verifyOperation(cycleID string, op cycle.OperationSignature) error {
	ts, err := time.Parse(time.RFC3339, op.OperationTimestamp)
	if err != nil {
		return fmt.Errorf("operation_timestamp %q: %v", op.OperationTimestamp, err)
	}
	pub, err := signing.ParseKey(op.PublicKey)
	if err != nil {
		return err
	}
	e, ok := c.reg.KeyAt(op.Agent, pub, ts)
	if !ok {
		if cur, found := c.reg.Current(op.Agent, ts); found {
			return fmt.Errorf("the log's key is not %s's registry key at %s (registry: %s)", op.Agent, op.OperationTimestamp, cur.KeyID)
		}
		return fmt.Errorf("no registry key for %s valid at %s", op.Agent, op.OperationTimestamp)
	}
	if owner, ok := c.pol.OwnerOf(op.Operation); !ok || owner != op.Agent {
		return fmt.Errorf("%s does not own %s in its contract (ADR-001)", op.Agent, op.Operation)
	}
	st := signing.Statement{
		Agent: op.Agent, CycleID: cycleID, InputHash: op.InputHash, Operation: op.Operation,
		OperationOutputHash: op.OperationOutputHash, OperationTimestamp: op.OperationTimestamp,
		ParentHash: op.ParentHash, Step: op.Step,
	}
	// Only a signature the log records as verified is batched: one recorded
	// as failed is expected to fail, and is verified on its own at once.
	if op.Verified && c.batchStatement(e.Public(), st, op.Signature) {
		return nil
	}
	v, err := signing.NewVerifier(e.Public())
	if err != nil {
		return err
	}
	return v.VerifyStatement(st, op.Signature)
}

// batchStatement leaves the Ed25519 equation of an operation signature to
// the batch, if there is one, and reports whether it did.
func (c *checker) batchStatement(pub ed25519.PublicKey, st signing.Statement, sig string) bool {
	if c.batch == nil {
		return false
	}
	raw, err := signing.ParseSignature(sig)
	return err == nil && c.batch.AddStatement(pub, st, raw)
}

// checkEvidence recomputes the input and output hash of every signed step
// in the evidence bundle and compares them with the log.
func checkEvidence(lg *cycle.SignatureLog, ev *cycle.Evidence) error {
	if ev.CycleID != lg.CycleID {
		return fmt.Errorf("evidence names cycle %s, log %s", ev.CycleID, lg.CycleID)
	}
	for _, op := range lg.Operations {
		s := stepRecord(ev.Steps, op.Step)
		if s == nil {
			return fmt.Errorf("step %d is signed in the log but missing from the evidence", op.Step)
		}
		for _, part := range []struct {
			name string
			raw  json.RawMessage
			want string
		}{{"input", s.Input, op.InputHash}, {"output", s.Output, op.OperationOutputHash}} {
			if len(part.raw) == 0 {
				return fmt.Errorf("step %d %s is missing", op.Step, part.name)
			}
			// Fast path: vios stores the canonical bytes, so their hash is
			// the signed one; anything else is canonicalised first.
			got := signing.SHA256(part.raw)
			if got != part.want {
				var err error
				if got, err = signing.HashJSON(part.raw); err != nil {
					return fmt.Errorf("step %d %s: %v", op.Step, part.name, err)
				}
			}
			if got != part.want {
				return fmt.Errorf("step %d %s hash %s does not match the signed %s", op.Step, part.name, got, part.want)
			}
		}
	}
	return nil
}

// stepRecord returns the last record of step n (a cycle has a handful).
func stepRecord(steps []cycle.StepRecord, n int) *cycle.StepRecord {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Step == n {
			return &steps[i]
		}
	}
	return nil
}
