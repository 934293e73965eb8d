package dimse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PDU types (PS3.8 9.3).
const (
	pduAssociateRQ = 0x01
	pduAssociateAC = 0x02
	pduAssociateRJ = 0x03
	pduPData       = 0x04
	pduReleaseRQ   = 0x05
	pduReleaseRP   = 0x06
	pduAbort       = 0x07
)

// Item types of the variable fields of association PDUs (PS3.8 9.3.2–9.3.3
// and PS3.7 Annex D.3.3).
const (
	itemApplicationContext = 0x10
	itemPresentationRQ     = 0x20
	itemPresentationAC     = 0x21
	itemAbstractSyntax     = 0x30
	itemTransferSyntax     = 0x40
	itemUserInformation    = 0x50
	itemMaxLength          = 0x51
	itemImplementationUID  = 0x52
	itemAsyncOps           = 0x53
	itemRoleSelection      = 0x54
	itemImplementationName = 0x55
	itemUserIdentityRQ     = 0x58
	itemUserIdentityAC     = 0x59
)

// ApplicationContext is the only application context name PS3.7 defines.
const ApplicationContext = "1.2.840.10008.3.1.1.1"

// maxControlPDU bounds the PDUs we read whole (all but P-DATA): a request
// proposing 128 contexts with a dozen transfer syntaxes each is ~60 KiB.
const maxControlPDU = 1 << 20

// Presentation context results (PS3.8 9.3.3.2).
const (
	ResultAcceptance                 = 0
	ResultUserRejection              = 1
	ResultNoReason                   = 2
	ResultAbstractSyntaxNotSupported = 3
	ResultTransferSyntaxNotSupported = 4
)

// A-ASSOCIATE-RJ result, source and reason values (PS3.8 9.3.4).
const (
	RejectPermanent = 1
	RejectTransient = 2

	RejectSourceUser     = 1 // service-user
	RejectSourceACSE     = 2 // service-provider, ACSE related
	RejectSourcePresent  = 3 // service-provider, presentation related
	RejectNoReason       = 1 // with source 1 or 2
	RejectAppContext     = 2 // source 1
	RejectCallingAE      = 3 // source 1
	RejectCalledAE       = 7 // source 1
	RejectProtocolVer    = 2 // source 2
	RejectCongestion     = 1 // source 3
	RejectLocalLimitExcd = 2 // source 3
)

// A-ABORT sources and provider reasons (PS3.8 9.3.8).
const (
	AbortSourceUser     = 0
	AbortSourceProvider = 2

	AbortNotSpecified      = 0
	AbortUnrecognizedPDU   = 1
	AbortUnexpectedPDU     = 2
	AbortUnrecognizedParam = 4
	AbortUnexpectedParam   = 5
	AbortInvalidParamValue = 6
)

// AssociateRQ is an A-ASSOCIATE-RQ PDU.
type AssociateRQ struct {
	ProtocolVersion    uint16
	CalledAE           string
	CallingAE          string
	ApplicationContext string
	Contexts           []ContextRQ
	User               UserInfo
}

// ContextRQ is a proposed presentation context.
type ContextRQ struct {
	ID               byte
	AbstractSyntax   string
	TransferSyntaxes []string
}

// AssociateAC is an A-ASSOCIATE-AC PDU.
type AssociateAC struct {
	ProtocolVersion    uint16
	CalledAE           string
	CallingAE          string
	ApplicationContext string
	Contexts           []ContextAC
	User               UserInfo
}

// ContextAC is the acceptor's answer for one proposed presentation context.
type ContextAC struct {
	ID             byte
	Result         byte
	TransferSyntax string
}

// UserInfo is the user information item with the sub-items Molar uses.
// Unknown sub-items are skipped when reading, as PS3.7 D.3.3 allows.
type UserInfo struct {
	// MaxLength is the largest P-DATA-TF PDU (its variable field) the
	// sender can receive; 0 means no limit.
	MaxLength              uint32
	ImplementationClassUID string
	ImplementationVersion  string
	// AsyncOps is set when the asynchronous operations window was sent.
	AsyncOps              bool
	OpsInvoked, OpsPerfmd uint16
	Roles                 []RoleSelection
	Identity              *UserIdentity // A-ASSOCIATE-RQ only
	// IdentityResponse is set in an A-ASSOCIATE-AC that answers a user
	// identity request asking for a positive response.
	IdentityResponse *[]byte
}

// RoleSelection is an SCP/SCU role selection sub-item (PS3.7 D.3.3.4).
type RoleSelection struct {
	SOPClassUID string
	SCU, SCP    bool
}

// User identity types (PS3.7 D.3.3.7).
const (
	IdentityUsername         = 1
	IdentityUsernamePassword = 2
	IdentityKerberos         = 3
	IdentitySAML             = 4
	IdentityJWT              = 5
)

// UserIdentity is a user identity negotiation request.
type UserIdentity struct {
	Type                      byte
	PositiveResponseRequested bool
	Primary, Secondary        []byte
}

// AssociateRJ is an A-ASSOCIATE-RJ PDU.
type AssociateRJ struct{ Result, Source, Reason byte }

func (rj *AssociateRJ) Error() string {
	kind := "permanently"
	if rj.Result == RejectTransient {
		kind = "transiently"
	}
	return fmt.Sprintf("association rejected %s: %s", kind, rejectReason(rj.Source, rj.Reason))
}

func rejectReason(source, reason byte) string {
	switch {
	case source == RejectSourceUser && reason == RejectAppContext:
		return "application context name not supported"
	case source == RejectSourceUser && reason == RejectCallingAE:
		return "calling AE title not recognised"
	case source == RejectSourceUser && reason == RejectCalledAE:
		return "called AE title not recognised"
	case source == RejectSourceACSE && reason == RejectProtocolVer:
		return "protocol version not supported"
	case source == RejectSourcePresent && reason == RejectCongestion:
		return "temporary congestion"
	case source == RejectSourcePresent && reason == RejectLocalLimitExcd:
		return "local limit exceeded"
	}
	return fmt.Sprintf("no reason given (source %d, reason %d)", source, reason)
}

// Abort is an A-ABORT PDU.
type Abort struct{ Source, Reason byte }

func (a *Abort) Error() string {
	if a.Source == AbortSourceUser {
		return "association aborted by the peer"
	}
	return fmt.Sprintf("association aborted by the peer's provider: %s", abortReason(a.Reason))
}

func abortReason(r byte) string {
	switch r {
	case AbortUnrecognizedPDU:
		return "unrecognised PDU"
	case AbortUnexpectedPDU:
		return "unexpected PDU"
	case AbortUnrecognizedParam:
		return "unrecognised PDU parameter"
	case AbortUnexpectedParam:
		return "unexpected PDU parameter"
	case AbortInvalidParamValue:
		return "invalid PDU parameter value"
	}
	return "reason not specified"
}

// ProtocolError is a PDU that breaks PS3.8. Reason is the A-ABORT reason
// to answer it with.
type ProtocolError struct {
	Reason byte
	Detail string
}

func (e *ProtocolError) Error() string { return "DICOM protocol error: " + e.Detail }

func protoErr(reason byte, format string, args ...any) error {
	return &ProtocolError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// pduHeader is the six bytes every PDU starts with.
type pduHeader struct {
	Type   byte
	Length uint32
}

func readHeader(r io.Reader) (pduHeader, error) {
	var b [6]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return pduHeader{}, err
	}
	return pduHeader{Type: b[0], Length: binary.BigEndian.Uint32(b[2:])}, nil
}

// pdu is any PDU read whole: *AssociateRQ, *AssociateAC, *AssociateRJ,
// *Abort, releaseRQ, releaseRP, or pdata (the PDVs of a P-DATA-TF).
type pdu any

type (
	releaseRQ struct{}
	releaseRP struct{}
	pdata     []pdv
)

// pdv is one presentation data value item.
type pdv struct {
	ContextID byte
	Command   bool
	Last      bool
	Data      []byte
}

// readPDU reads one whole PDU. P-DATA-TF PDUs longer than maxPData are a
// protocol error (maxPData 0: up to maxControlPDU). It is for PDUs small
// enough to hold; associations stream P-DATA instead (see conn.go).
func readPDU(r io.Reader, maxPData uint32) (pdu, error) {
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	limit := uint32(maxControlPDU)
	if h.Type == pduPData && maxPData != 0 {
		limit = maxPData
	}
	if h.Length > limit {
		return nil, protoErr(AbortInvalidParamValue, "PDU type %#02x of %d bytes exceeds the limit of %d", h.Type, h.Length, limit)
	}
	// Grown as bytes arrive, so a header alone cannot make us allocate.
	body, err := io.ReadAll(io.LimitReader(r, int64(h.Length)))
	if err == nil && len(body) < int(h.Length) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("read PDU type %#02x body of %d bytes: %w", h.Type, h.Length, unexpectedEOF(err))
	}
	return decodePDU(h.Type, body)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodePDU decodes a PDU body of the given type.
func decodePDU(typ byte, body []byte) (pdu, error) {
	switch typ {
	case pduAssociateRQ:
		return decodeAssociateRQ(body)
	case pduAssociateAC:
		return decodeAssociateAC(body)
	case pduAssociateRJ:
		if len(body) != 4 {
			return nil, protoErr(AbortInvalidParamValue, "A-ASSOCIATE-RJ of length %d, want 4", len(body))
		}
		return &AssociateRJ{Result: body[1], Source: body[2], Reason: body[3]}, nil
	case pduPData:
		return decodePData(body)
	case pduReleaseRQ, pduReleaseRP:
		if len(body) != 4 {
			return nil, protoErr(AbortInvalidParamValue, "A-RELEASE PDU of length %d, want 4", len(body))
		}
		if typ == pduReleaseRQ {
			return releaseRQ{}, nil
		}
		return releaseRP{}, nil
	case pduAbort:
		if len(body) != 4 {
			return nil, protoErr(AbortInvalidParamValue, "A-ABORT of length %d, want 4", len(body))
		}
		return &Abort{Source: body[2], Reason: body[3]}, nil
	}
	return nil, protoErr(AbortUnrecognizedPDU, "unrecognised PDU type %#02x", typ)
}

func decodePData(body []byte) (pdata, error) {
	var out pdata
	for len(body) > 0 {
		if len(body) < 6 {
			return nil, protoErr(AbortInvalidParamValue, "PDV item header truncated (%d bytes left)", len(body))
		}
		n := binary.BigEndian.Uint32(body)
		if n < 2 || uint64(n) > uint64(len(body)-4) {
			return nil, protoErr(AbortInvalidParamValue, "PDV item length %d does not fit the %d bytes left", n, len(body)-4)
		}
		mch := body[5]
		out = append(out, pdv{ContextID: body[4], Command: mch&1 != 0, Last: mch&2 != 0, Data: body[6 : 4+n]})
		body = body[4+n:]
	}
	if len(out) == 0 {
		return nil, protoErr(AbortInvalidParamValue, "P-DATA-TF without PDV items")
	}
	return out, nil
}

// item is one item of an association PDU's variable field.
type item struct {
	Type byte
	Data []byte
}

// splitItems splits a variable field into items: type, reserved, 2-byte length.
func splitItems(b []byte, where string) ([]item, error) {
	var out []item
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, protoErr(AbortInvalidParamValue, "%s: item header truncated", where)
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b)-4 {
			return nil, protoErr(AbortInvalidParamValue, "%s: item type %#02x of length %d overruns its PDU", where, b[0], n)
		}
		out = append(out, item{Type: b[0], Data: b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

// trimUID drops the NUL or space padding some implementations add.
func trimUID(b []byte) string { return strings.TrimRight(string(b), "\x00 ") }

// trimAE drops an AE title's insignificant spaces.
func trimAE(b []byte) string { return strings.Trim(string(b), " \x00") }

// associateHeader is the fixed part shared by A-ASSOCIATE-RQ and -AC.
func decodeAssociateHeader(body []byte, what string) (version uint16, called, calling string, items []item, err error) {
	if len(body) < 68 {
		return 0, "", "", nil, protoErr(AbortInvalidParamValue, "%s of %d bytes is shorter than its 68-byte fixed part", what, len(body))
	}
	version = binary.BigEndian.Uint16(body)
	called = trimAE(body[4:20])
	calling = trimAE(body[20:36])
	items, err = splitItems(body[68:], what)
	return version, called, calling, items, err
}

func decodeAssociateRQ(body []byte) (*AssociateRQ, error) {
	v, called, calling, items, err := decodeAssociateHeader(body, "A-ASSOCIATE-RQ")
	if err != nil {
		return nil, err
	}
	rq := &AssociateRQ{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	seen := map[byte]bool{}
	for _, it := range items {
		switch it.Type {
		case itemApplicationContext:
			rq.ApplicationContext = trimUID(it.Data)
		case itemPresentationRQ:
			pc, err := decodeContextRQ(it.Data)
			if err != nil {
				return nil, err
			}
			if seen[pc.ID] {
				return nil, protoErr(AbortInvalidParamValue, "presentation context ID %d proposed twice", pc.ID)
			}
			seen[pc.ID] = true
			rq.Contexts = append(rq.Contexts, pc)
		case itemUserInformation:
			if err := decodeUserInfo(it.Data, &rq.User); err != nil {
				return nil, err
			}
		default:
			// PS3.8 9.3.2: items of unknown type are ignored.
		}
	}
	if rq.ApplicationContext == "" {
		return nil, protoErr(AbortInvalidParamValue, "A-ASSOCIATE-RQ without an application context item")
	}
	return rq, nil
}

func decodeContextRQ(b []byte) (ContextRQ, error) {
	if len(b) < 4 {
		return ContextRQ{}, protoErr(AbortInvalidParamValue, "presentation context item of %d bytes", len(b))
	}
	pc := ContextRQ{ID: b[0]}
	if pc.ID%2 == 0 {
		return pc, protoErr(AbortInvalidParamValue, "presentation context ID %d is even", pc.ID)
	}
	subs, err := splitItems(b[4:], "presentation context")
	if err != nil {
		return pc, err
	}
	for _, s := range subs {
		switch s.Type {
		case itemAbstractSyntax:
			pc.AbstractSyntax = trimUID(s.Data)
		case itemTransferSyntax:
			pc.TransferSyntaxes = append(pc.TransferSyntaxes, trimUID(s.Data))
		}
	}
	return pc, nil
}

func decodeAssociateAC(body []byte) (*AssociateAC, error) {
	v, called, calling, items, err := decodeAssociateHeader(body, "A-ASSOCIATE-AC")
	if err != nil {
		return nil, err
	}
	ac := &AssociateAC{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	for _, it := range items {
		switch it.Type {
		case itemApplicationContext:
			ac.ApplicationContext = trimUID(it.Data)
		case itemPresentationAC:
			if len(it.Data) < 4 {
				return nil, protoErr(AbortInvalidParamValue, "presentation context answer of %d bytes", len(it.Data))
			}
			pc := ContextAC{ID: it.Data[0], Result: it.Data[2]}
			subs, err := splitItems(it.Data[4:], "presentation context answer")
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if s.Type == itemTransferSyntax {
					pc.TransferSyntax = trimUID(s.Data)
				}
			}
			ac.Contexts = append(ac.Contexts, pc)
		case itemUserInformation:
			if err := decodeUserInfo(it.Data, &ac.User); err != nil {
				return nil, err
			}
		}
	}
	return ac, nil
}

func decodeUserInfo(b []byte, u *UserInfo) error {
	subs, err := splitItems(b, "user information")
	if err != nil {
		return err
	}
	for _, s := range subs {
		d := s.Data
		switch s.Type {
		case itemMaxLength:
			if len(d) != 4 {
				return protoErr(AbortInvalidParamValue, "maximum length sub-item of %d bytes", len(d))
			}
			u.MaxLength = binary.BigEndian.Uint32(d)
		case itemImplementationUID:
			u.ImplementationClassUID = trimUID(d)
		case itemImplementationName:
			u.ImplementationVersion = strings.TrimRight(string(d), " \x00")
		case itemAsyncOps:
			if len(d) != 4 {
				return protoErr(AbortInvalidParamValue, "asynchronous operations window of %d bytes", len(d))
			}
			u.AsyncOps = true
			u.OpsInvoked, u.OpsPerfmd = binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		case itemRoleSelection:
			if len(d) < 2 {
				return protoErr(AbortInvalidParamValue, "role selection sub-item of %d bytes", len(d))
			}
			n := int(binary.BigEndian.Uint16(d))
			if len(d) != 2+n+2 {
				return protoErr(AbortInvalidParamValue, "role selection sub-item of %d bytes with a %d-byte UID", len(d), n)
			}
			u.Roles = append(u.Roles, RoleSelection{SOPClassUID: trimUID(d[2 : 2+n]), SCU: d[2+n] == 1, SCP: d[3+n] == 1})
		case itemUserIdentityRQ:
			id, err := decodeIdentity(d)
			if err != nil {
				return err
			}
			u.Identity = id
		case itemUserIdentityAC:
			if len(d) < 2 || int(binary.BigEndian.Uint16(d)) != len(d)-2 {
				return protoErr(AbortInvalidParamValue, "user identity response of %d bytes", len(d))
			}
			resp := append([]byte(nil), d[2:]...)
			u.IdentityResponse = &resp
		default:
			// Extended negotiation and anything newer: not used, ignored.
		}
	}
	return nil
}

func decodeIdentity(d []byte) (*UserIdentity, error) {
	if len(d) < 4 {
		return nil, protoErr(AbortInvalidParamValue, "user identity sub-item of %d bytes", len(d))
	}
	id := &UserIdentity{Type: d[0], PositiveResponseRequested: d[1] == 1}
	n := int(binary.BigEndian.Uint16(d[2:]))
	if 4+n+2 > len(d) {
		return nil, protoErr(AbortInvalidParamValue, "user identity primary field of %d bytes overruns its sub-item", n)
	}
	id.Primary = append([]byte(nil), d[4:4+n]...)
	rest := d[4+n:]
	m := int(binary.BigEndian.Uint16(rest))
	if 2+m != len(rest) {
		return nil, protoErr(AbortInvalidParamValue, "user identity secondary field of %d bytes does not fill its sub-item", m)
	}
	id.Secondary = append([]byte(nil), rest[2:]...)
	return id, nil
}

// Encoding.

// maxItem is the largest item value: its length field has 16 bits.
const maxItem = 0xFFFF

func appendItem(dst []byte, typ byte, data []byte) []byte {
	dst = append(dst, typ, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(data)))
	return append(dst, data...)
}

// fits reports whether every length in an association PDU fits its field.
// Encoders return nil otherwise, rather than a wrapped length that a peer
// would read as a different PDU.
func (u *UserInfo) fits() bool {
	if len(u.ImplementationClassUID) > 64 || len(u.ImplementationVersion) > 16 {
		return false
	}
	n := 8 + 4 + len(u.ImplementationClassUID) + 4 + len(u.ImplementationVersion) + 8
	for _, r := range u.Roles {
		n += 8 + len(r.SOPClassUID)
	}
	if id := u.Identity; id != nil {
		if len(id.Primary) > maxItem || len(id.Secondary) > maxItem {
			return false
		}
		n += 4 + 6 + len(id.Primary) + len(id.Secondary)
	}
	if u.IdentityResponse != nil {
		n += 6 + len(*u.IdentityResponse)
	}
	return n <= maxItem
}

func contextsFit(contexts []ContextRQ) bool {
	for _, pc := range contexts {
		n := 4 + 4 + len(pc.AbstractSyntax)
		for _, ts := range pc.TransferSyntaxes {
			n += 4 + len(ts)
		}
		if len(pc.AbstractSyntax) > 64 || n > maxItem {
			return false
		}
	}
	return true
}

func appendPDUHeader(dst []byte, typ byte, n int) []byte {
	dst = append(dst, typ, 0)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func padAE(s string) []byte {
	b := []byte("                ")
	copy(b, s)
	return b
}

func appendAssociateHeader(body []byte, version uint16, called, calling, appCtx string) []byte {
	body = binary.BigEndian.AppendUint16(body, version)
	body = append(body, 0, 0)
	body = append(body, padAE(called)...)
	body = append(body, padAE(calling)...)
	body = append(body, make([]byte, 32)...)
	return appendItem(body, itemApplicationContext, []byte(appCtx))
}

// encode returns the PDU's bytes, or nil when a value is too long for its
// length field.
func (rq *AssociateRQ) encode() []byte {
	if !rq.User.fits() || !contextsFit(rq.Contexts) || len(rq.ApplicationContext) > 64 {
		return nil
	}
	body := appendAssociateHeader(nil, rq.ProtocolVersion, rq.CalledAE, rq.CallingAE, rq.ApplicationContext)
	for _, pc := range rq.Contexts {
		sub := []byte{pc.ID, 0, 0, 0}
		sub = appendItem(sub, itemAbstractSyntax, []byte(pc.AbstractSyntax))
		for _, ts := range pc.TransferSyntaxes {
			sub = appendItem(sub, itemTransferSyntax, []byte(ts))
		}
		body = appendItem(body, itemPresentationRQ, sub)
	}
	body = appendItem(body, itemUserInformation, rq.User.encode())
	return append(appendPDUHeader(make([]byte, 0, 6+len(body)), pduAssociateRQ, len(body)), body...)
}

// encode returns the PDU's bytes, or nil when a value is too long for its
// length field.
func (ac *AssociateAC) encode() []byte {
	if !ac.User.fits() || len(ac.ApplicationContext) > 64 {
		return nil
	}
	body := appendAssociateHeader(nil, ac.ProtocolVersion, ac.CalledAE, ac.CallingAE, ac.ApplicationContext)
	for _, pc := range ac.Contexts {
		sub := []byte{pc.ID, 0, pc.Result, 0}
		ts := pc.TransferSyntax
		if pc.Result != ResultAcceptance && ts == "" {
			// PS3.8 9.3.3.2: the sub-item is present but not significant.
			ts = "1.2.840.10008.1.2"
		}
		sub = appendItem(sub, itemTransferSyntax, []byte(ts))
		body = appendItem(body, itemPresentationAC, sub)
	}
	body = appendItem(body, itemUserInformation, ac.User.encode())
	return append(appendPDUHeader(make([]byte, 0, 6+len(body)), pduAssociateAC, len(body)), body...)
}

func (u *UserInfo) encode() []byte {
	var b []byte
	b = appendItem(b, itemMaxLength, binary.BigEndian.AppendUint32(nil, u.MaxLength))
	if u.ImplementationClassUID != "" {
		b = appendItem(b, itemImplementationUID, []byte(u.ImplementationClassUID))
	}
	if u.AsyncOps {
		w := binary.BigEndian.AppendUint16(nil, u.OpsInvoked)
		b = appendItem(b, itemAsyncOps, binary.BigEndian.AppendUint16(w, u.OpsPerfmd))
	}
	for _, r := range u.Roles {
		d := binary.BigEndian.AppendUint16(nil, uint16(len(r.SOPClassUID)))
		d = append(d, r.SOPClassUID...)
		d = append(d, boolByte(r.SCU), boolByte(r.SCP))
		b = appendItem(b, itemRoleSelection, d)
	}
	if u.ImplementationVersion != "" {
		b = appendItem(b, itemImplementationName, []byte(u.ImplementationVersion))
	}
	if id := u.Identity; id != nil {
		d := []byte{id.Type, boolByte(id.PositiveResponseRequested)}
		d = binary.BigEndian.AppendUint16(d, uint16(len(id.Primary)))
		d = append(d, id.Primary...)
		d = binary.BigEndian.AppendUint16(d, uint16(len(id.Secondary)))
		d = append(d, id.Secondary...)
		b = appendItem(b, itemUserIdentityRQ, d)
	}
	if u.IdentityResponse != nil {
		d := binary.BigEndian.AppendUint16(nil, uint16(len(*u.IdentityResponse)))
		b = appendItem(b, itemUserIdentityAC, append(d, *u.IdentityResponse...))
	}
	return b
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (rj *AssociateRJ) encode() []byte {
	return append(appendPDUHeader(nil, pduAssociateRJ, 4), 0, rj.Result, rj.Source, rj.Reason)
}

func (a *Abort) encode() []byte {
	return append(appendPDUHeader(nil, pduAbort, 4), 0, 0, a.Source, a.Reason)
}

func encodeRelease(typ byte) []byte { return append(appendPDUHeader(nil, typ, 4), 0, 0, 0, 0) }
