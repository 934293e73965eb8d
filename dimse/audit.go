package dimse

import (
	"context"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Access is one read of patient data over DIMSE, for the audit log: a
// query, or the instances of one study sent by C-MOVE or C-GET.
type Access struct {
	Operation   string // "C-FIND", "MWL C-FIND", "C-MOVE" or "C-GET"
	CallingAE   string
	Client      string // the peer's address
	Destination string // C-MOVE's move destination
	// The study read, for C-MOVE and C-GET; for C-FIND, the values of
	// these keys when the query matched on them.
	StudyUID, AccessionNumber, PatientID string
	Instances                            int
	// Query lists a C-FIND's matching keys, e.g. "AccessionNumber=R123".
	Query string
}

// Auditor records accesses. A retrieve or query whose access cannot be
// recorded is refused.
type Auditor interface {
	RecordAccess(ctx context.Context, a Access) error
}

// auditRetrieve records one access per study of a C-MOVE or C-GET.
func (s *Server) auditRetrieve(ctx context.Context, a *Assoc, op, dest string, refs []store.InstanceRef) error {
	if s.Auditor == nil {
		return nil
	}
	counts := map[string]int{}
	var studies []string
	for _, r := range refs {
		if counts[r.StudyUID] == 0 {
			studies = append(studies, r.StudyUID)
		}
		counts[r.StudyUID]++
	}
	for _, study := range studies {
		acc := Access{Operation: op, CallingAE: a.CallingAE, Client: a.conn.RemoteAddr().String(), Destination: dest,
			StudyUID: study, Instances: counts[study]}
		attrs, err := s.Archive.Study(ctx, study)
		if err != nil {
			return err
		}
		acc.AccessionNumber, acc.PatientID = attrs.First(dcm.AccessionNumber), attrs.First(dcm.PatientID)
		if err := s.Auditor.RecordAccess(ctx, acc); err != nil {
			return err
		}
	}
	return nil
}

// auditQuery records a C-FIND (op "C-FIND", or "MWL C-FIND" for the
// worklist) before it runs.
func (s *Server) auditQuery(ctx context.Context, a *Assoc, op string, keys []store.Key) error {
	if s.Auditor == nil {
		return nil
	}
	acc := Access{Operation: op, CallingAE: a.CallingAE, Client: a.conn.RemoteAddr().String()}
	var q []string
	for _, k := range keys {
		if k.Value == "" {
			continue
		}
		q = append(q, k.Tag.Keyword()+"="+k.Value)
		switch k.Tag {
		case dcm.AccessionNumber:
			acc.AccessionNumber = k.Value
		case dcm.PatientID:
			acc.PatientID = k.Value
		case dcm.StudyInstanceUID:
			acc.StudyUID = k.Value
		}
	}
	acc.Query = strings.Join(q, " ")
	return s.Auditor.RecordAccess(ctx, acc)
}
