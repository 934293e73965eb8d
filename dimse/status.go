package dimse

import "fmt"

// DIMSE status codes Molar sends or interprets (PS3.7 Annex C, PS3.4 B.2.3,
// C.4.1.1.4, C.4.2.1.5, C.4.3.1.4, K.4.1.1.4).
const (
	StatusSuccess                 = 0x0000
	StatusCancel                  = 0xFE00
	StatusPending                 = 0xFF00
	StatusPendingWarning          = 0xFF01 // some optional keys not supported
	StatusSOPClassNotSupported    = 0x0122
	StatusUnrecognizedOperation   = 0x0211
	StatusProcessingFailure       = 0x0110
	StatusOutOfResources          = 0xA700
	StatusOutOfResourcesMatches   = 0xA701
	StatusOutOfResourcesSubops    = 0xA702
	StatusMoveDestinationUnknown  = 0xA801
	StatusDataSetMismatch         = 0xA900 // data set does not match SOP class / identifier does not match
	StatusCannotUnderstand        = 0xC000
	StatusDuplicateConflict       = 0xC011 // Molar: same SOP Instance UID, different bytes, policy reject
	StatusCoercion                = 0xB000 // C-STORE: coercion of data elements
	StatusSubopsFailures          = 0xB000 // C-MOVE/C-GET: sub-operations complete, one or more failures
	StatusElementsDiscarded       = 0xB006
	StatusDataSetDoesNotMatchWarn = 0xB007
)

// StatusKind classifies a status as PS3.7 C.1 does.
type StatusKind int

// Status kinds.
const (
	KindSuccess StatusKind = iota
	KindPending
	KindCancel
	KindWarning
	KindFailure
)

// Kind returns the class of status s.
func Kind(s uint16) StatusKind {
	switch {
	case s == StatusSuccess:
		return KindSuccess
	case s == StatusPending || s == StatusPendingWarning:
		return KindPending
	case s == StatusCancel:
		return KindCancel
	case s == 0x0001 || s&0xF000 == 0xB000 || s == 0x0107 || s == 0x0116:
		return KindWarning
	}
	return KindFailure
}

// StatusError is a non-success final status from a peer.
type StatusError struct {
	Op      string
	Status  uint16
	Comment string
}

func (e *StatusError) Error() string {
	if e.Comment != "" {
		return fmt.Sprintf("%s: status %04X: %s", e.Op, e.Status, e.Comment)
	}
	return fmt.Sprintf("%s: status %04X", e.Op, e.Status)
}
