package dimse

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"github.com/molar-pacs/molar/store"
)

// handleStore streams a C-STORE data set into the archive and answers only
// once it is durable (Archive.IngestDataset returns after the commit).
func (s *Server) handleStore(ctx context.Context, a *Assoc, msg *Message, st *assocStats) error {
	cmd := msg.Command
	rsp := &Command{Field: CStoreRSP, RespondingTo: cmd.MessageID,
		AffectedSOPClassUID: cmd.AffectedSOPClassUID, AffectedSOPInstanceUID: cmd.AffectedSOPInstanceUID}
	log := a.log.With("sop_instance", cmd.AffectedSOPInstanceUID)
	switch {
	case msg.Data == nil:
		rsp.Status, rsp.ErrorComment = StatusCannotUnderstand, "C-STORE-RQ without a data set"
	case cmd.AffectedSOPClassUID != msg.Context.AbstractSyntax:
		rsp.Status, rsp.ErrorComment = StatusSOPClassNotSupported, "SOP class differs from the presentation context's"
	default:
		cr := &countingReader{r: msg.Data}
		res, err := s.Archive.IngestDataset(ctx, store.Meta{
			SOPClassUID:    cmd.AffectedSOPClassUID,
			SOPInstanceUID: cmd.AffectedSOPInstanceUID,
			TransferSyntax: msg.Context.TransferSyntax.UID,
			SourceAE:       a.CallingAE,
		}, cr)
		st.bytes += cr.n
		rsp.Status, rsp.ErrorComment = storeStatus(res, err)
		switch Kind(rsp.Status) {
		case KindSuccess:
			st.stored++
			log.Debug("instance stored", "outcome", res.Outcome.String(), "bytes", res.Size)
		case KindWarning:
			st.stored++
			log.Info("instance stored with a warning", "status", hex4(rsp.Status), "warning", strings.Join(res.Warnings, "; "))
		default:
			st.storeFailed++
			log.Warn("instance refused", "status", hex4(rsp.Status), "err", err)
		}
	}
	return a.Send(msg.Context, rsp, nil)
}

// storeStatus maps an ingest outcome to a C-STORE status (PS3.4 B.2.3).
func storeStatus(res *store.Result, err error) (uint16, string) {
	if err == nil {
		for _, w := range res.Warnings {
			if strings.HasPrefix(w, "Specific Character Set") {
				// Text was indexed as if in the default repertoire.
				return StatusCoercion, w
			}
		}
		if len(res.Warnings) > 0 {
			return StatusDataSetDoesNotMatchWarn, res.Warnings[0]
		}
		return StatusSuccess, ""
	}
	if rej, ok := store.IsReject(err); ok {
		switch rej.Reason {
		case store.ReasonMissingAttribute, store.ReasonInvalidAttribute:
			return StatusDataSetMismatch, shortComment(rej.Detail)
		case store.ReasonConflict:
			return StatusDuplicateConflict, shortComment(rej.Error())
		default:
			return StatusCannotUnderstand, shortComment(rej.Error())
		}
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return StatusOutOfResources, "archive disk full"
	}
	if errors.Is(err, context.Canceled) {
		return StatusOutOfResources, "server shutting down"
	}
	return StatusProcessingFailure, "archive error; see the server log"
}

// shortComment fits a refusal into Error Comment's 64 characters: when a
// detail quotes a long value ("SOP Instance UID (0008,0018) "…": why"),
// the quoted value goes and the attribute and the reason stay.
func shortComment(detail string) string {
	if len(detail) <= maxErrorComment {
		return detail
	}
	if i, j := strings.Index(detail, " \""), strings.LastIndex(detail, "\": "); i >= 0 && j > i {
		return detail[:i] + ": " + detail[j+3:]
	}
	return detail
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func hex4(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
