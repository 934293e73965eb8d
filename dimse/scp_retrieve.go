package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// retrieveOp is one C-MOVE or C-GET in progress: its request, where the
// sub-operations go, and their counts.
type retrieveOp struct {
	s      *Server
	a      *Assoc // the requestor's association
	msg    *Message
	rspCmd uint16 // CMoveRSP or CGetRSP
	name   string

	total                      int
	completed, failed, warning int
	failedUIDs                 []string
}

func (op *retrieveOp) respond(status uint16, comment string, remaining int, offending ...dcm.Tag) error {
	cmd := op.msg.Command
	rsp := &Command{Field: op.rspCmd, RespondingTo: cmd.MessageID, AffectedSOPClassUID: cmd.AffectedSOPClassUID,
		Status: status, ErrorComment: comment, OffendingElements: offending,
		SubOps: &SubOps{Remaining: remaining, Completed: op.completed, Failed: op.failed, Warning: op.warning}}
	var data io.Reader
	if Kind(status) != KindPending && len(op.failedUIDs) > 0 {
		// PS3.4 C.4.2.1.6: the final response lists the failed instances.
		attrs := dcm.Attrs{{Tag: failedSOPInstanceUIDList, VR: dcm.UI, Values: op.failedUIDs}}
		b, err := encodeIdentifier(attrs, op.msg.Context.TransferSyntax, nil)
		if err != nil {
			return err
		}
		data = bytes.NewReader(b)
	}
	return op.a.Send(op.msg.Context, rsp, data)
}

// final sends the final response from the counts (PS3.4 C.4.2.1.5).
func (op *retrieveOp) final(cancelled bool) error {
	remaining := -1
	status := uint16(StatusSuccess)
	done := op.completed + op.failed + op.warning
	switch {
	case cancelled:
		status, remaining = StatusCancel, op.total-done
	case op.failed == 0 && op.warning == 0:
	case op.completed == 0 && op.warning == 0:
		status = StatusOutOfResourcesSubops
	default:
		status = StatusSubopsFailures
	}
	op.a.log.Info(op.name+" done", "status", hex4(status), "completed", op.completed, "failed", op.failed,
		"warning", op.warning, "total", op.total)
	return op.respond(status, "", remaining)
}

// resolveRetrieve lists the instances a retrieve identifier names. A
// non-zero status is a failure to report as is.
func (s *Server) resolveRetrieve(ctx context.Context, model string, id *identifier) ([]store.InstanceRef, uint16, string, dcm.Tag, error) {
	level, err := store.ParseLevel(id.level)
	if err != nil {
		return nil, StatusDataSetMismatch, err.Error(), dcm.QueryRetrieveLevel, nil
	}
	if (model == StudyRootMove || model == StudyRootGet) && level == store.PatientLevel {
		return nil, StatusDataSetMismatch, "Study Root has no PATIENT level", dcm.QueryRetrieveLevel, nil
	}
	unique := map[store.Level]dcm.Tag{store.PatientLevel: dcm.PatientID, store.StudyLevel: dcm.StudyInstanceUID,
		store.SeriesLevel: dcm.SeriesInstanceUID, store.InstanceLevel: dcm.SOPInstanceUID}
	var keys []store.Key
	for _, t := range []dcm.Tag{dcm.PatientID, dcm.StudyInstanceUID, dcm.SeriesInstanceUID, dcm.SOPInstanceUID} {
		if l, _ := store.AttributeLevel(t); l > level {
			continue
		}
		if v := joinValues(id.keys.Values(t)); v != "" {
			keys = append(keys, store.Key{Tag: t, Value: v})
		}
	}
	if !slices.ContainsFunc(keys, func(k store.Key) bool { return k.Tag == unique[level] }) {
		return nil, StatusDataSetMismatch, fmt.Sprintf("no %s unique key for a %s-level retrieve", unique[level].Keyword(), level), unique[level], nil
	}
	qLevel := max(level, store.StudyLevel)
	var refs []store.InstanceRef
	type seriesKey struct{ study, series string }
	var wanted map[string]bool
	var series []seriesKey
	_, err = s.Archive.QueryFunc(ctx, store.Query{Level: qLevel, Keys: keys}, func(m store.Match) error {
		switch qLevel {
		case store.StudyLevel:
			series = append(series, seriesKey{m.StudyUID, ""})
		case store.SeriesLevel:
			series = append(series, seriesKey{m.StudyUID, m.SeriesUID})
		default:
			if wanted == nil {
				wanted = map[string]bool{}
			}
			wanted[m.SOPInstanceUID] = true
			if k := (seriesKey{m.StudyUID, m.SeriesUID}); !slices.Contains(series, k) {
				series = append(series, k)
			}
		}
		return nil
	})
	if err != nil {
		var qe *store.QueryError
		if errors.As(err, &qe) {
			return nil, StatusDataSetMismatch, qe.Error(), qe.Tag, nil
		}
		return nil, 0, "", 0, err
	}
	for _, k := range series {
		err := s.Archive.ListInstances(ctx, k.study, k.series, func(r store.InstanceRef) error {
			if wanted == nil || wanted[r.SOPInstanceUID] {
				refs = append(refs, r)
			}
			return nil
		})
		if err != nil {
			return nil, 0, "", 0, err
		}
	}
	return refs, 0, "", 0, nil
}

// prepare parses the identifier and resolves it, answering failures itself.
// It returns nil refs and a nil error when a failure was answered.
func (op *retrieveOp) prepare(ctx context.Context) ([]store.InstanceRef, error) {
	msg := op.msg
	if msg.Data == nil {
		return nil, op.respond(StatusCannotUnderstand, op.name+"-RQ without an identifier", -1)
	}
	id, err := readIdentifier(msg.Data, msg.Context.TransferSyntax)
	if err != nil {
		return nil, op.respond(StatusCannotUnderstand, err.Error(), -1)
	}
	refs, status, comment, tag, err := op.s.resolveRetrieve(ctx, msg.Context.AbstractSyntax, id)
	switch {
	case err != nil:
		op.a.log.Error(op.name+": resolving the identifier", "err", err)
		return nil, op.respond(StatusOutOfResourcesMatches, "cannot list the matching instances; see the server log", -1)
	case status != 0:
		return nil, op.respond(status, comment, -1, tag)
	}
	op.total = len(refs)
	return refs, nil
}

// run performs the sub-operations on dst, sending a pending response
// after each one but the last, then the final response.
func (op *retrieveOp) run(ctx context.Context, dst *Assoc, refs []store.InstanceRef, needSCPRole bool) error {
	cmd := op.msg.Command
	origin, originID := "", uint16(0)
	if op.rspCmd == CMoveRSP {
		origin, originID = op.a.CallingAE, cmd.MessageID
	}
	for i, ref := range refs {
		if ctx.Err() != nil {
			return op.final(true)
		}
		status, comment, err := op.s.sendInstance(ctx, dst, ref, needSCPRole, origin, originID)
		switch {
		case err != nil:
			// The destination association is broken: the rest fail too.
			op.a.log.Warn(op.name+" sub-operation failed; giving up on the rest", "sop_instance", ref.SOPInstanceUID, "err", err)
			for _, r := range refs[i:] {
				op.failed++
				op.failedUIDs = append(op.failedUIDs, r.SOPInstanceUID)
			}
			if dst != op.a {
				return op.final(false)
			}
			return fmt.Errorf("%s sub-operation: %w: %w", op.name, err, errAbort)
		case Kind(status) == KindSuccess:
			op.completed++
		case Kind(status) == KindWarning:
			op.warning++
		default:
			op.failed++
			op.failedUIDs = append(op.failedUIDs, ref.SOPInstanceUID)
			op.a.log.Warn(op.name+" sub-operation failed", "sop_instance", ref.SOPInstanceUID, "status", hex4(status), "comment", comment)
		}
		if i < len(refs)-1 {
			if err := op.respond(StatusPending, "", len(refs)-i-1); err != nil {
				return err
			}
		}
	}
	return op.final(false)
}

// handleMove serves C-MOVE (PS3.4 C.4.2): sub-operations on a new
// association to a configured destination.
func (s *Server) handleMove(ctx context.Context, a *Assoc, msg *Message) error {
	op := &retrieveOp{s: s, a: a, msg: msg, rspCmd: CMoveRSP, name: "C-MOVE"}
	dest := msg.Command.MoveDestination
	peer, ok := s.Policy.Peer(dest)
	if !ok {
		a.log.Warn("C-MOVE to an unknown destination", "destination", dest)
		return op.respond(StatusMoveDestinationUnknown, "move destination "+dest+" is not a configured peer", -1)
	}
	refs, err := op.prepare(ctx)
	if refs == nil || err != nil {
		return err
	}
	if err := s.auditRetrieve(ctx, a, "C-MOVE", dest, refs); err != nil {
		a.log.Error("C-MOVE refused: the access cannot be recorded", "err", err)
		return op.respond(StatusOutOfResourcesSubops, "audit log unavailable; nothing sent", -1)
	}
	d := Dialer{CallingAE: s.Policy.AETitle, Timeout: s.ARTIMTimeout, IdleTimeout: s.IdleTimeout, Log: s.Log}
	if peer.TLS {
		d.TLS = s.ClientTLS
	}
	dst, err := d.Associate(ctx, peer.Addr(), peer.AETitle, storageProposalsAll(refs))
	if err != nil {
		a.log.Warn("C-MOVE: cannot reach the destination", "destination", dest, "err", err)
		op.failed = len(refs)
		for _, r := range refs {
			op.failedUIDs = append(op.failedUIDs, r.SOPInstanceUID)
		}
		return op.respond(StatusOutOfResourcesSubops, "cannot associate with "+dest, -1)
	}
	defer func() {
		if err := dst.Release(); err != nil {
			a.log.Warn("C-MOVE: releasing the destination association", "destination", dest, "err", err)
		}
	}()
	a.log.Info("C-MOVE started", "destination", dest, "instances", len(refs))
	return op.run(ctx, dst, refs, false)
}

// handleGet serves C-GET (PS3.4 C.4.3): C-STORE sub-operations on the
// requestor's own association, on contexts where it took the SCP role.
func (s *Server) handleGet(ctx context.Context, a *Assoc, msg *Message) error {
	op := &retrieveOp{s: s, a: a, msg: msg, rspCmd: CGetRSP, name: "C-GET"}
	refs, err := op.prepare(ctx)
	if refs == nil || err != nil {
		return err
	}
	if err := s.auditRetrieve(ctx, a, "C-GET", "", refs); err != nil {
		a.log.Error("C-GET refused: the access cannot be recorded", "err", err)
		return op.respond(StatusOutOfResourcesSubops, "audit log unavailable; nothing sent", -1)
	}
	a.log.Info("C-GET started", "instances", len(refs))
	return op.run(ctx, a, refs, true)
}

// storageProposalsAll is StorageProposals for one association: instances
// beyond its contexts fail their sub-operation for want of a context.
func storageProposalsAll(refs []store.InstanceRef) []Proposal {
	p, _ := StorageProposals(refs, MaxContexts)
	return p
}

// MaxContexts is how many presentation contexts one A-ASSOCIATE-RQ can
// carry (PS3.8 9.3.2.2: odd IDs 1 to 255).
const MaxContexts = 128

// StorageProposals proposes the presentation contexts to send refs on, in
// order: for each new SOP class the uncompressed pair (explicit VR little
// endian first), which dcm.Transcode can convert native and RLE data to,
// and each stored syntax that is not one of them, as is. It stops before
// exceeding max contexts and returns how many of refs, from the first,
// the proposals cover; callers send the rest on another association.
func StorageProposals(refs []store.InstanceRef, max int) ([]Proposal, int) {
	var out []Proposal
	seen := map[[2]string]bool{}
	for i, r := range refs {
		var need []Proposal
		if !seen[[2]string{r.SOPClassUID, ""}] {
			need = append(need, Proposal{AbstractSyntax: r.SOPClassUID, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}})
		}
		if r.TransferSyntax != dcm.ExplicitVRLittleEndian && r.TransferSyntax != dcm.ImplicitVRLittleEndian && !seen[[2]string{r.SOPClassUID, r.TransferSyntax}] {
			need = append(need, Proposal{AbstractSyntax: r.SOPClassUID, TransferSyntaxes: []string{r.TransferSyntax}})
		}
		if len(out)+len(need) > max {
			return out, i
		}
		seen[[2]string{r.SOPClassUID, ""}] = true
		seen[[2]string{r.SOPClassUID, r.TransferSyntax}] = true
		out = append(out, need...)
	}
	return out, len(refs)
}

// sendInstance performs one C-STORE sub-operation. A non-nil error means
// dst is no longer usable; otherwise status is the sub-operation's result.
func (s *Server) sendInstance(ctx context.Context, dst *Assoc, ref store.InstanceRef, needSCPRole bool, origin string, originID uint16) (uint16, string, error) {
	pc := dst.SendContext(ref.SOPClassUID, ref.TransferSyntax, needSCPRole)
	if pc == nil {
		why := "no accepted presentation context for " + ref.SOPClassUID + " in " + ref.TransferSyntax + " or a syntax it converts to"
		if needSCPRole {
			why += " with the SCP role"
		}
		return StatusOutOfResourcesSubops, why, nil
	}
	in, err := s.Archive.OpenInstance(ctx, ref.SOPInstanceUID)
	if err != nil {
		return StatusOutOfResourcesSubops, "instance unavailable: " + err.Error(), nil
	}
	defer in.Close()
	rsp, err := dst.Store(ctx, StoreRequest{Context: pc, SOPClassUID: ref.SOPClassUID, SOPInstanceUID: ref.SOPInstanceUID,
		TransferSyntax: in.TransferSyntax, Data: in.DatasetReader(), MoveOriginatorAE: origin, MoveOriginatorID: originID})
	if err != nil {
		return 0, "", err
	}
	return rsp.Status, rsp.ErrorComment, nil
}
