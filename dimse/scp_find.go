package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// findResponder sends the responses of one C-FIND.
type findResponder struct {
	a   *Assoc
	msg *Message
}

func (r findResponder) final(status uint16, comment string, offending ...dcm.Tag) error {
	cmd := r.msg.Command
	return r.a.Send(r.msg.Context, &Command{Field: CFindRSP, RespondingTo: cmd.MessageID,
		AffectedSOPClassUID: cmd.AffectedSOPClassUID, Status: status, ErrorComment: comment,
		OffendingElements: offending}, nil)
}

// identifier reads the request's identifier. When it cannot, it answers
// the failure itself and returns a nil identifier with the send's error.
func (r findResponder) identifier() (*identifier, error) {
	if r.msg.Data == nil {
		return nil, r.final(StatusCannotUnderstand, "C-FIND-RQ without an identifier")
	}
	id, err := readIdentifier(r.msg.Data, r.msg.Context.TransferSyntax)
	if err != nil {
		return nil, r.final(StatusCannotUnderstand, err.Error())
	}
	return id, nil
}

func (r findResponder) pending(status uint16, attrs dcm.Attrs, requested []string) error {
	b, err := encodeIdentifier(attrs, r.msg.Context.TransferSyntax, requested)
	if err != nil {
		return fmt.Errorf("encode C-FIND response: %w", err)
	}
	cmd := r.msg.Command
	return r.a.Send(r.msg.Context, &Command{Field: CFindRSP, RespondingTo: cmd.MessageID,
		AffectedSOPClassUID: cmd.AffectedSOPClassUID, Status: status}, bytes.NewReader(b))
}

// sendFailed marks errors from sending, after which the association is
// beyond saving, as opposed to errors of the query itself.
type sendFailed struct{ err error }

func (e sendFailed) Error() string { return e.err.Error() }
func (e sendFailed) Unwrap() error { return e.err }

// handleFind serves Patient Root and Study Root C-FIND (PS3.4 C.4.1)
// through the store's query engine, streaming one pending response per
// match and stopping at a C-CANCEL.
func (s *Server) handleFind(ctx context.Context, a *Assoc, msg *Message) error {
	r := findResponder{a, msg}
	id, err := r.identifier()
	if id == nil {
		return err
	}
	level, err := store.ParseLevel(id.level)
	if err != nil {
		return r.final(StatusDataSetMismatch, err.Error(), dcm.QueryRetrieveLevel)
	}
	studyRoot := msg.Context.AbstractSyntax == StudyRootFind
	if studyRoot && level == store.PatientLevel {
		return r.final(StatusDataSetMismatch, "Study Root has no PATIENT level", dcm.QueryRetrieveLevel)
	}

	q := store.Query{Level: level}
	pendingStatus := uint16(StatusPending)
	var ret dcm.Attrs // the return keys, in tag order
	for _, k := range id.keys {
		switch k.Tag {
		case dcm.RetrieveAETitle, dcm.InstanceAvailability:
			ret = append(ret, k)
			continue
		}
		l, indexed := store.AttributeLevel(k.Tag)
		if indexed && l > level {
			// PS3.4 C.4.1.2.1: keys below the query level are not allowed;
			// ignore them rather than refuse the whole query.
			continue
		}
		if !indexed || k.VR == dcm.SQ {
			pendingStatus = StatusPendingWarning
			ret = append(ret, dcm.Attr{Tag: k.Tag, VR: k.VR})
			continue
		}
		q.Keys = append(q.Keys, store.Key{Tag: k.Tag, VR: k.VR, Value: joinValues(k.Values)})
		ret = append(ret, k)
	}

	if err := s.auditQuery(ctx, a, "C-FIND", q.Keys); err != nil {
		a.log.Error("C-FIND refused: the access cannot be recorded", "err", err)
		return r.final(StatusOutOfResources, "audit log unavailable")
	}
	matches := 0
	_, err = s.Archive.QueryFunc(ctx, q, func(m store.Match) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		attrs := make(dcm.Attrs, 0, len(ret)+2)
		attrs = append(attrs, dcm.Attr{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{level.String()}})
		for _, k := range ret {
			switch k.Tag {
			case dcm.RetrieveAETitle:
				attrs.Set(k.Tag, dcm.AE, s.Policy.AETitle)
			case dcm.InstanceAvailability:
				attrs.Set(k.Tag, dcm.CS, "ONLINE")
			default:
				switch v, ok := m.Attrs.Get(k.Tag); {
				case ok:
					attrs.Set(k.Tag, v.VR, v.Values...)
				case k.VR == dcm.SQ:
					attrs.SetSequence(k.Tag) // not indexed: an empty sequence
				default:
					attrs.Set(k.Tag, k.VR)
				}
			}
		}
		matches++
		if err := r.pending(pendingStatus, attrs, id.charset); err != nil {
			return sendFailed{err}
		}
		return nil
	})
	var qe *store.QueryError
	var sf sendFailed
	switch {
	case errors.As(err, &sf):
		return err
	case ctx.Err() != nil && !isDone(a):
		a.log.Info("C-FIND cancelled", "matches_sent", matches)
		return r.final(StatusCancel, "")
	case errors.As(err, &qe):
		return r.final(StatusDataSetMismatch, qe.Error(), qe.Tag)
	case err != nil:
		a.log.Error("C-FIND failed", "err", err)
		return r.final(StatusCannotUnderstand, "query failed; see the server log")
	}
	a.log.Debug("C-FIND done", "level", level.String(), "matches", matches)
	return r.final(StatusSuccess, "")
}

func isDone(a *Assoc) bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}
