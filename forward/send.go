package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// send delivers the job's pending instances. It returns nil when every
// instance was delivered or failed for good, else why the attempt failed.
// An attempt normally needs one association; more, one after the other,
// only when the instances need more than 128 presentation contexts.
func (q *Queue) send(ctx context.Context, r *jobRec, log *slog.Logger) error {
	pending, err := q.plan(ctx, r)
	if err != nil {
		return err
	}
	var problems []string
	for len(pending) > 0 {
		batch, proposals, rest := proposalsFor(pending)
		if err := q.sendBatch(ctx, r, batch, proposals, log, &problems); err != nil {
			return err
		}
		pending = rest
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return errors.New(problems[0])
	}
	return fmt.Errorf("%d instances not delivered this time; the first: %s", len(problems), problems[0])
}

// proposalsFor takes from pending the instances whose presentation
// contexts fit one association (dimse.StorageProposals, as C-MOVE
// proposes them), and returns them, the proposals and the rest.
// Verification is proposed too: a node that takes none of the storage
// contexts then still associates, and each instance fails for good with
// dimse.ErrNoContext instead of the whole attempt failing again and again.
func proposalsFor(pending []pendingInstance) (batch []pendingInstance, proposals []dimse.Proposal, rest []pendingInstance) {
	refs := make([]store.InstanceRef, len(pending))
	for i, p := range pending {
		refs[i] = p.ref
	}
	proposals, n := dimse.StorageProposals(refs, dimse.MaxContexts-1)
	proposals = append(proposals, dimse.Proposal{AbstractSyntax: dimse.VerificationSOPClass,
		TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}})
	return pending[:n], proposals, pending[n:]
}

// sendBatch sends instances on one association. Instances the node
// refused for now are added to problems; an error means the association
// failed (or ctx ended) and the rest of the attempt is off.
func (q *Queue) sendBatch(ctx context.Context, r *jobRec, batch []pendingInstance, proposals []dimse.Proposal, log *slog.Logger, problems *[]string) error {
	a, err := q.dialer.Associate(ctx, r.Node.Addr(), r.Node.AETitle, proposals)
	if err != nil {
		return err
	}
	// Cancel and shutdown abort the association; dimse.Assoc.Abort waits
	// for a data set being written to finish first.
	stop := context.AfterFunc(ctx, a.Abort)
	var broken error
	for _, p := range batch {
		if ctx.Err() != nil {
			broken = ctx.Err()
			break
		}
		o := q.sendOne(ctx, a, p.ref)
		if o.broken != nil {
			broken = o.broken
			break
		}
		in := *p.rec
		in.Status, in.Comment = o.status, o.comment
		switch o.kind {
		case delivered:
			in.State = InstanceSent
		case refused:
			in.State = InstanceFailed
			log.Warn("forward: instance refused for good", "sop_instance", p.ref.SOPInstanceUID, "status", o.status, "comment", o.comment)
		case retryLater:
			*problems = append(*problems, describe(p.ref.SOPInstanceUID, o))
		}
		if err := q.record(r.ID, p.ref.SOPInstanceUID, &in, p.rec.State); err != nil {
			broken = err
			break
		}
		*p.rec = in
	}
	if !stop() {
		// ctx ended: the abort is under way or done.
		<-a.Done()
		return errOr(ctx.Err(), broken)
	}
	if broken != nil {
		a.Abort()
		return broken
	}
	if err := a.Release(); err != nil {
		// Everything was answered; the node's manners do not fail the job.
		log.Warn("forward: releasing the association", "err", err)
	}
	return nil
}

type outcomeKind int

const (
	delivered  outcomeKind = iota
	refused                // for good
	retryLater             // the node or the archive may do better later
)

// outcome is what became of one C-STORE.
type outcome struct {
	kind            outcomeKind
	status, comment string
	// broken: the association failed; nothing more can be sent on it.
	broken error
}

func describe(sop string, o outcome) string {
	s := "instance " + sop
	if o.status != "" {
		s += " status " + o.status
	}
	if o.comment != "" {
		s += ": " + o.comment
	}
	return s
}

// sendOne sends one instance.
func (q *Queue) sendOne(ctx context.Context, a *dimse.Assoc, ref store.InstanceRef) outcome {
	pc := a.SendContext(ref.SOPClassUID, ref.TransferSyntax, false)
	if pc == nil {
		ts, _ := dcm.LookupTransferSyntax(ref.TransferSyntax)
		return outcome{kind: refused, comment: fmt.Sprintf("%s: the node accepted no presentation context for %s in %s or a syntax it converts to",
			dimse.ErrNoContext, ref.SOPClassUID, ts.Name)}
	}
	in, err := q.src.OpenInstance(ctx, ref.SOPInstanceUID)
	if errors.Is(err, store.ErrNotFound) {
		return outcome{kind: refused, comment: "no longer in the archive"}
	}
	if err != nil {
		return outcome{kind: retryLater, comment: "cannot read it from the archive: " + err.Error()}
	}
	defer in.Close()
	rsp, err := a.Store(ctx, dimse.StoreRequest{Context: pc, SOPClassUID: ref.SOPClassUID,
		SOPInstanceUID: ref.SOPInstanceUID, TransferSyntax: in.TransferSyntax, Data: in.DatasetReader()})
	if errors.Is(err, dimse.ErrNoContext) {
		return outcome{kind: refused, comment: err.Error()}
	}
	if err != nil {
		return outcome{broken: err}
	}
	status := fmt.Sprintf("%04X", rsp.Status)
	comment := strings.TrimSpace(rsp.ErrorComment)
	switch k := dimse.Kind(rsp.Status); {
	case k == dimse.KindSuccess || k == dimse.KindWarning:
		return outcome{kind: delivered, status: status, comment: comment}
	case rsp.Status == statusDuplicateInstance:
		// The node has it already: most likely our own earlier send,
		// whose answer was lost to a crash or a broken connection.
		return outcome{kind: delivered, status: status, comment: comment}
	case permanent(rsp.Status):
		return outcome{kind: refused, status: status, comment: comment}
	default:
		return outcome{kind: retryLater, status: status, comment: comment}
	}
}

// statusDuplicateInstance (0111) is how some nodes answer an instance
// they already hold.
const statusDuplicateInstance = 0x0111

// permanent reports a C-STORE failure status no retry can change: the
// node finds the data set wrong (A9xx, Cxxx), does not support the SOP
// class, or refuses the request as malformed or unauthorised (PS3.7 C.4,
// PS3.4 B.2.3). Out of resources (A7xx), processing failure (0110),
// resource limitation (0213), cancel and unknown statuses may pass.
func permanent(status uint16) bool {
	switch {
	case status&0xF000 == 0xC000, status&0xFF00 == 0xA900:
		return true
	}
	switch status {
	case 0x0105, // no such attribute
		0x0106, // invalid attribute value
		0x0112, // no such SOP instance
		0x0117, // invalid object instance
		0x0118, // no such SOP class
		0x0119, // class-instance conflict
		0x0122, // SOP class not supported
		0x0124, // not authorized
		0x0210, // duplicate invocation
		0x0211, // unrecognized operation
		0x0212: // mistyped argument
		return true
	}
	return false
}
