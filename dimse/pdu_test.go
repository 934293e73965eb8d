package dimse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Hand-built PDU bytes, written from PS3.8 section 9.3 without the
// package's encoders, so a mistake in those cannot hide in both sides.

func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// wireItem is an item or sub-item: type, reserved, 2-byte length, value.
func wireItem(typ byte, value ...[]byte) []byte {
	v := cat(value...)
	return cat([]byte{typ, 0}, be16(len(v)), v)
}

// wirePDU is a PDU: type, reserved, 4-byte length, variable field.
func wirePDU(typ byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{typ, 0}, be32(len(b)), b)
}

// wireFixed is the 68-byte fixed part of A-ASSOCIATE-RQ/-AC (PS3.8 Table
// 9-11): protocol version, reserved, called AE, calling AE, 32 reserved.
func wireFixed(version int, called, calling string) []byte {
	ae := func(s string) []byte { return []byte((s + strings.Repeat(" ", 16))[:16]) }
	return cat(be16(version), []byte{0, 0}, ae(called), ae(calling), make([]byte, 32))
}

func wireAppContext() []byte { return wireItem(itemApplicationContext, []byte(ApplicationContext)) }

// wireContextRQ is a presentation context item (PS3.8 Table 9-13).
func wireContextRQ(id byte, as string, ts ...string) []byte {
	parts := [][]byte{{id, 0, 0, 0}, wireItem(itemAbstractSyntax, []byte(as))}
	for _, t := range ts {
		parts = append(parts, wireItem(itemTransferSyntax, []byte(t)))
	}
	return wireItem(itemPresentationRQ, parts...)
}

func wireMaxLength(n int) []byte { return wireItem(itemMaxLength, be32(n)) }

// wireRQ is a well-formed A-ASSOCIATE-RQ around the given items.
func wireRQ(items ...[]byte) []byte {
	return wirePDU(pduAssociateRQ, wireFixed(1, "MOLAR", "SCU"), cat(items...))
}

// decodeAll decodes b with readPDU and checks it consumed all of it.
func decodeAll(t *testing.T, b []byte) pdu {
	t.Helper()
	r := bytes.NewReader(b)
	p, err := readPDU(r, 0)
	if err != nil {
		t.Fatalf("readPDU: %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("readPDU left %d of %d bytes", r.Len(), len(b))
	}
	return p
}

// wantProtocolError checks err is a *ProtocolError with the A-ABORT reason.
func wantProtocolError(t *testing.T, err error, reason byte) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want *ProtocolError reason %d", err, err, reason)
	}
	if pe.Reason != reason {
		t.Fatalf("ProtocolError reason %d (%s), want %d", pe.Reason, pe.Detail, reason)
	}
}

func TestPDURoundTrip(t *testing.T) {
	rq := &AssociateRQ{
		ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "OPG_ROOM_2", ApplicationContext: ApplicationContext,
		Contexts: []ContextRQ{
			{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}},
			{ID: 3, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.1.3", TransferSyntaxes: []string{dcm.JPEGLosslessSV1, dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}},
			{ID: 5, AbstractSyntax: StudyRootGet, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
			{ID: 7, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.2"}, // no transfer syntax at all
			{ID: 255, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.13.1.2", TransferSyntaxes: []string{dcm.JPEG2000Lossless}},
		},
		User: UserInfo{
			MaxLength: 32768, ImplementationClassUID: "1.2.826.0.1.3680043.10.1", ImplementationVersion: "TEST_0.1",
			AsyncOps: true, OpsInvoked: 3, OpsPerfmd: 0,
			Roles: []RoleSelection{
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.1.3", SCU: false, SCP: true},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SCU: true, SCP: true},
			},
			Identity: &UserIdentity{Type: IdentityUsernamePassword, PositiveResponseRequested: true, Primary: []byte("alice"), Secondary: []byte("s3cr\x00t")},
		},
	}
	rqUsername := &AssociateRQ{
		ProtocolVersion: 1, CalledAE: "ANY-SCP", CallingAE: "A", ApplicationContext: ApplicationContext,
		Contexts: []ContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}},
		User:     UserInfo{Identity: &UserIdentity{Type: IdentityUsername, Primary: []byte("bob")}}, // secondary empty: decodes as nil
	}
	rqLongAE := &AssociateRQ{
		ProtocolVersion: 3, CalledAE: "SIXTEEN_CHARS_AE", CallingAE: "0123456789ABCDEF", ApplicationContext: "1.2.3",
		User: UserInfo{MaxLength: 0xFFFFFFFF},
	}
	ticket := []byte("kerberos-server-ticket")
	noResponse := []byte(nil)
	ac := &AssociateAC{
		ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "OPG_ROOM_2", ApplicationContext: ApplicationContext,
		Contexts: []ContextAC{
			{ID: 1, Result: ResultAcceptance, TransferSyntax: dcm.ImplicitVRLittleEndian},
			{ID: 3, Result: ResultAcceptance, TransferSyntax: dcm.JPEGLosslessSV1},
			{ID: 5, Result: ResultUserRejection, TransferSyntax: dcm.ImplicitVRLittleEndian},
		},
		User: UserInfo{MaxLength: 16384, ImplementationClassUID: dcm.MolarImplementationClassUID, ImplementationVersion: dcm.MolarImplementationVersion,
			AsyncOps: true, OpsInvoked: 1, OpsPerfmd: 1,
			Roles:            []RoleSelection{{SOPClassUID: "1.2.840.10008.5.1.4.1.1.1.3", SCP: true}},
			IdentityResponse: &noResponse},
	}
	acTicket := &AssociateAC{
		ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "X", ApplicationContext: ApplicationContext,
		Contexts: []ContextAC{{ID: 1, Result: ResultAcceptance, TransferSyntax: dcm.ExplicitVRLittleEndian}},
		User:     UserInfo{MaxLength: 4096, IdentityResponse: &ticket},
	}
	tests := []struct {
		name string
		in   []byte
		want pdu
	}{
		{"associate-rq full", rq.encode(), rq},
		{"associate-rq username only", rqUsername.encode(), rqUsername},
		{"associate-rq 16-char AEs, no contexts", rqLongAE.encode(), rqLongAE},
		{"associate-ac with empty identity response", ac.encode(), ac},
		{"associate-ac with server ticket", acTicket.encode(), acTicket},
		{"associate-rj", (&AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectCalledAE}).encode(),
			&AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectCalledAE}},
		{"associate-rj transient", (&AssociateRJ{Result: RejectTransient, Source: RejectSourcePresent, Reason: RejectLocalLimitExcd}).encode(),
			&AssociateRJ{Result: RejectTransient, Source: RejectSourcePresent, Reason: RejectLocalLimitExcd}},
		{"abort", (&Abort{Source: AbortSourceProvider, Reason: AbortInvalidParamValue}).encode(), &Abort{Source: AbortSourceProvider, Reason: AbortInvalidParamValue}},
		{"abort by user", (&Abort{}).encode(), &Abort{}},
		{"release-rq", encodeRelease(pduReleaseRQ), releaseRQ{}},
		{"release-rp", encodeRelease(pduReleaseRP), releaseRP{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAll(t, tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, tc.want)
			}
			if h := binary.BigEndian.Uint32(tc.in[2:]); int(h) != len(tc.in)-6 {
				t.Fatalf("PDU length field %d, variable field is %d bytes", h, len(tc.in)-6)
			}
		})
	}
}

// TestAssociateACRejectedContextKeepsTransferSyntax: PS3.8 9.3.3.2 wants
// the transfer syntax sub-item even when the context is refused.
func TestAssociateACRejectedContextKeepsTransferSyntax(t *testing.T) {
	ac := &AssociateAC{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "SCU", ApplicationContext: ApplicationContext,
		Contexts: []ContextAC{{ID: 9, Result: ResultAbstractSyntaxNotSupported}}}
	b := ac.encode()
	want := wireItem(itemPresentationAC, []byte{9, 0, ResultAbstractSyntaxNotSupported, 0}, wireItem(itemTransferSyntax, []byte(dcm.ImplicitVRLittleEndian)))
	if !bytes.Contains(b, want) {
		t.Fatalf("A-ASSOCIATE-AC lacks % x", want)
	}
	got := decodeAll(t, b).(*AssociateAC)
	if len(got.Contexts) != 1 || got.Contexts[0].ID != 9 || got.Contexts[0].Result != ResultAbstractSyntaxNotSupported {
		t.Fatalf("contexts %+v", got.Contexts)
	}
}

// TestAssociateRQWireFormat compares our encoding with an A-ASSOCIATE-RQ
// assembled field by field from PS3.8 Tables 9-11 to 9-16 and PS3.7 D.3.3.
func TestAssociateRQWireFormat(t *testing.T) {
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "ECHOSCU", ApplicationContext: ApplicationContext,
		Contexts: []ContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian}}},
		User: UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.3", ImplementationVersion: "V1",
			AsyncOps: true, OpsInvoked: 2, OpsPerfmd: 1,
			Roles:    []RoleSelection{{SOPClassUID: "1.2.4", SCU: true}},
			Identity: &UserIdentity{Type: 2, PositiveResponseRequested: true, Primary: []byte("u"), Secondary: []byte("pw")}}}
	want := cat(
		[]byte{0x01, 0x00}, be32(0), // PDU type, reserved, length (patched below)
		[]byte{0x00, 0x01, 0x00, 0x00}, // protocol version 1, reserved
		[]byte("MOLAR           "), []byte("ECHOSCU         "), make([]byte, 32),
		[]byte{0x10, 0x00, 0x00, 0x15}, []byte("1.2.840.10008.3.1.1.1"),
		[]byte{0x20, 0x00}, be16(4+4+17+4+17+4+19), []byte{0x01, 0x00, 0x00, 0x00},
		[]byte{0x30, 0x00, 0x00, 0x11}, []byte("1.2.840.10008.1.1"),
		[]byte{0x40, 0x00, 0x00, 0x11}, []byte("1.2.840.10008.1.2"),
		[]byte{0x40, 0x00, 0x00, 0x13}, []byte("1.2.840.10008.1.2.1"),
		[]byte{0x50, 0x00}, be16(8+9+8+13+6+13),
		[]byte{0x51, 0x00, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00},
		[]byte{0x52, 0x00, 0x00, 0x05}, []byte("1.2.3"),
		[]byte{0x53, 0x00, 0x00, 0x04, 0x00, 0x02, 0x00, 0x01},
		[]byte{0x54, 0x00, 0x00, 0x09, 0x00, 0x05}, []byte("1.2.4"), []byte{0x01, 0x00},
		[]byte{0x55, 0x00, 0x00, 0x02}, []byte("V1"),
		[]byte{0x58, 0x00, 0x00, 0x09, 0x02, 0x01, 0x00, 0x01, 'u', 0x00, 0x02, 'p', 'w'},
	)
	binary.BigEndian.PutUint32(want[2:], uint32(len(want)-6))
	if got := rq.encode(); !bytes.Equal(got, want) {
		t.Fatalf("encode:\n got % x\nwant % x", got, want)
	}
	if got := decodeAll(t, want); !reflect.DeepEqual(got, rq) {
		t.Fatalf("decode of the hand-built PDU:\n got %#v\nwant %#v", got, rq)
	}
}

// TestDecodeDCMTKPDUs decodes PDUs recorded from DCMTK 3.6.7 (see
// capture_test.go).
func TestDecodeDCMTKPDUs(t *testing.T) {
	t.Run("echoscu A-ASSOCIATE-RQ", func(t *testing.T) {
		got := decodeAll(t, readOneCapture(t, "echoscu-00-rq-associate-rq.pdu"))
		want := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "ECHOSCU", ApplicationContext: ApplicationContext,
			Contexts: []ContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}},
			User:     UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.276.0.7230010.3.0.3.6.7", ImplementationVersion: "OFFIS_DCMTK_367"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v\nwant %#v", got, want)
		}
	})
	t.Run("storescu A-ASSOCIATE-RQ with user identity", func(t *testing.T) {
		rq := decodeAll(t, readOneCapture(t, "storescu-user-00-rq-associate-rq.pdu")).(*AssociateRQ)
		if rq.CallingAE != "STORESCU" || len(rq.Contexts) != 128 {
			t.Fatalf("calling %q, %d contexts", rq.CallingAE, len(rq.Contexts))
		}
		for i, pc := range rq.Contexts {
			if pc.ID != byte(2*i+1) || pc.AbstractSyntax == "" || len(pc.TransferSyntaxes) == 0 {
				t.Fatalf("context %d: %+v", i, pc)
			}
		}
		want := &UserIdentity{Type: IdentityUsernamePassword, PositiveResponseRequested: true, Primary: []byte("alice"), Secondary: []byte("secret")}
		if !reflect.DeepEqual(rq.User.Identity, want) {
			t.Fatalf("identity %+v", rq.User.Identity)
		}
	})
	t.Run("findscu A-ASSOCIATE-RQ", func(t *testing.T) {
		rq := decodeAll(t, readOneCapture(t, "findscu-00-rq-associate-rq.pdu")).(*AssociateRQ)
		want := []ContextRQ{{ID: 1, AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.ImplicitVRLittleEndian}}}
		if !reflect.DeepEqual(rq.Contexts, want) {
			t.Fatalf("contexts %+v", rq.Contexts)
		}
	})
	t.Run("storescp A-ASSOCIATE-AC", func(t *testing.T) {
		got := decodeAll(t, readOneCapture(t, "storescp-00-ac-associate-ac.pdu"))
		want := &AssociateAC{ProtocolVersion: 1, CalledAE: "STORESCP", CallingAE: "MOLARSCU", ApplicationContext: ApplicationContext,
			Contexts: []ContextAC{{ID: 1, TransferSyntax: dcm.ImplicitVRLittleEndian}, {ID: 3, TransferSyntax: dcm.ExplicitVRLittleEndian}},
			User:     UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.276.0.7230010.3.0.3.6.7", ImplementationVersion: "OFFIS_DCMTK_367"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v\nwant %#v", got, want)
		}
	})
	t.Run("storescp --refuse A-ASSOCIATE-RJ", func(t *testing.T) {
		got := decodeAll(t, readOneCapture(t, "storescp-refuse-00-ac-associate-rj.pdu"))
		if want := (&AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectNoReason}); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v", got)
		}
	})
	t.Run("Molar's A-ASSOCIATE-AC answers the positive response request", func(t *testing.T) {
		ac := decodeAll(t, readOneCapture(t, "storescu-user-00-ac-associate-ac.pdu")).(*AssociateAC)
		if ac.User.IdentityResponse == nil || len(*ac.User.IdentityResponse) != 0 {
			t.Fatalf("identity response %v, want an empty one", ac.User.IdentityResponse)
		}
	})
	t.Run("every recorded PDU", func(t *testing.T) {
		for _, b := range readCapture(t, "*.pdu") {
			p := decodeAll(t, b)
			pd, ok := p.(pdata)
			if !ok {
				continue
			}
			for _, v := range pd {
				if v.ContextID%2 == 0 || !v.Last {
					t.Fatalf("PDV %+v", v)
				}
				if v.Command {
					if _, err := decodeCommand(v.Data); err != nil {
						t.Fatalf("recorded command set: %v", err)
					}
				}
			}
		}
	})
}

// TestDecodeIgnoresUnknownItems: PS3.8 9.3.2 and PS3.7 D.3.3 have
// receivers skip items and sub-items they do not know.
func TestDecodeIgnoresUnknownItems(t *testing.T) {
	b := wirePDU(pduAssociateRQ,
		wireFixed(1, " MOLAR", "\x00SCU\x00"), // leading spaces and NUL padding are not significant
		wireItem(0x7F, []byte("some future item")),
		wireAppContext(),
		wireItem(itemPresentationRQ, []byte{3, 0, 0, 0},
			wireItem(0x31, []byte{1, 2, 3}), // unknown sub-item
			wireItem(itemAbstractSyntax, []byte(VerificationSOPClass+"\x00")),
			wireItem(itemTransferSyntax, []byte(dcm.ImplicitVRLittleEndian+"\x00"))),
		wireItem(0x22, nil), // reserved item type, empty
		wireItem(itemUserInformation,
			wireItem(0x56, be16(17), []byte(VerificationSOPClass), []byte{1}), // SOP class extended negotiation
			wireMaxLength(65536),
			wireItem(0x57, be16(5), []byte("1.2.3"), be16(0), be16(0)), // SOP class common extended negotiation
			wireItem(0x5F, []byte("unknown")),
			wireItem(itemImplementationUID, []byte("1.2.3.4\x00")),
		),
		wireItem(0xFF, make([]byte, 300)),
	)
	got := decodeAll(t, b)
	want := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "SCU", ApplicationContext: ApplicationContext,
		Contexts: []ContextRQ{{ID: 3, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}},
		User:     UserInfo{MaxLength: 65536, ImplementationClassUID: "1.2.3.4"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}

	acb := wirePDU(pduAssociateAC, wireFixed(1, "MOLAR", "SCU"), wireAppContext(),
		wireItem(0x77, []byte("x")),
		wireItem(itemPresentationAC, []byte{1, 0, 0, 0}, wireItem(0x30, []byte("ignored in an AC")),
			wireItem(itemTransferSyntax, []byte(dcm.ExplicitVRLittleEndian))),
		wireItem(itemUserInformation, wireItem(0x5A, []byte("?")), wireMaxLength(0)))
	gotAC := decodeAll(t, acb).(*AssociateAC)
	if len(gotAC.Contexts) != 1 || gotAC.Contexts[0].TransferSyntax != dcm.ExplicitVRLittleEndian {
		t.Fatalf("AC contexts %+v", gotAC.Contexts)
	}
}

func TestDecodePData(t *testing.T) {
	b := wirePDU(pduPData,
		be32(2+3), []byte{1, 0x03}, []byte("cmd"), // command, last
		be32(2), []byte{3, 0x00}, // empty data fragment
		be32(2+4), []byte{3, 0x02}, []byte{9, 8, 7, 6}, // data, last
		be32(2+1), []byte{255, 0x01}, []byte{0}, // command, not last
	)
	got := decodeAll(t, b)
	want := pdata{
		{ContextID: 1, Command: true, Last: true, Data: []byte("cmd")},
		{ContextID: 3, Data: []byte{}},
		{ContextID: 3, Last: true, Data: []byte{9, 8, 7, 6}},
		{ContextID: 255, Command: true, Data: []byte{0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	// A P-DATA-TF as Assoc.writePDU puts it on the wire.
	a := &Assoc{peerMax: 64}
	buf := a.buffer()
	copy(buf[12:], "0123456789")
	conn := &recordConn{}
	a.conn = conn
	if err := a.writePDU(buf, 7, false, true, 10); err != nil {
		t.Fatal(err)
	}
	got = decodeAll(t, conn.Bytes())
	if want := (pdata{{ContextID: 7, Last: true, Data: []byte("0123456789")}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("writePDU then decode: %#v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	fixed := wireFixed(1, "MOLAR", "SCU")
	rq := func(items ...[]byte) []byte { return wirePDU(pduAssociateRQ, fixed, wireAppContext(), cat(items...)) }
	ac := func(items ...[]byte) []byte { return wirePDU(pduAssociateAC, fixed, wireAppContext(), cat(items...)) }
	verification := wireContextRQ(1, VerificationSOPClass, dcm.ImplicitVRLittleEndian)
	ui := func(subs ...[]byte) []byte { return wireItem(itemUserInformation, subs...) }
	tests := []struct {
		name   string
		in     []byte
		reason byte
	}{
		{"A-ASSOCIATE-RQ shorter than its fixed part", wirePDU(pduAssociateRQ, fixed[:67]), AbortInvalidParamValue},
		{"A-ASSOCIATE-RQ empty", wirePDU(pduAssociateRQ), AbortInvalidParamValue},
		{"item overruns the PDU", wirePDU(pduAssociateRQ, fixed, []byte{0x10, 0, 0, 0x30}, []byte("1.2.840")), AbortInvalidParamValue},
		{"item header truncated", rq([]byte{0x20, 0, 0}), AbortInvalidParamValue},
		{"no application context", wirePDU(pduAssociateRQ, fixed, verification), AbortInvalidParamValue},
		{"empty application context", wirePDU(pduAssociateRQ, fixed, wireItem(itemApplicationContext, []byte("\x00"))), AbortInvalidParamValue},
		{"even presentation context ID", rq(wireContextRQ(2, VerificationSOPClass, dcm.ImplicitVRLittleEndian)), AbortInvalidParamValue},
		{"presentation context ID 0", rq(wireContextRQ(0, VerificationSOPClass, dcm.ImplicitVRLittleEndian)), AbortInvalidParamValue},
		{"presentation context ID proposed twice", rq(verification, verification), AbortInvalidParamValue},
		{"presentation context item of 3 bytes", rq(wireItem(itemPresentationRQ, []byte{1, 0, 0})), AbortInvalidParamValue},
		{"sub-item overruns its presentation context", rq(wireItem(itemPresentationRQ, []byte{1, 0, 0, 0}, []byte{0x30, 0, 0, 0x40}, []byte("1.2"))), AbortInvalidParamValue},
		{"sub-item overruns the user information", rq(verification, ui([]byte{0x52, 0, 0, 9}, []byte("1.2"))), AbortInvalidParamValue},
		{"maximum length of 3 bytes", rq(verification, ui(wireItem(itemMaxLength, []byte{0, 0x40, 0}))), AbortInvalidParamValue},
		{"maximum length of 8 bytes", rq(verification, ui(wireItem(itemMaxLength, make([]byte, 8)))), AbortInvalidParamValue},
		{"asynchronous operations window of 2 bytes", rq(verification, ui(wireMaxLength(0), wireItem(itemAsyncOps, []byte{0, 1}))), AbortInvalidParamValue},
		{"role selection of 1 byte", rq(verification, ui(wireItem(itemRoleSelection, []byte{0}))), AbortInvalidParamValue},
		{"role selection UID length too long", rq(verification, ui(wireItem(itemRoleSelection, be16(10), []byte("1.2.3"), []byte{1, 0}))), AbortInvalidParamValue},
		{"role selection without role bytes", rq(verification, ui(wireItem(itemRoleSelection, be16(5), []byte("1.2.3")))), AbortInvalidParamValue},
		{"user identity of 3 bytes", rq(verification, ui(wireItem(itemUserIdentityRQ, []byte{2, 0, 0}))), AbortInvalidParamValue},
		{"user identity primary overruns", rq(verification, ui(wireItem(itemUserIdentityRQ, []byte{2, 0}, be16(50), []byte("alice"), be16(0)))), AbortInvalidParamValue},
		{"user identity without secondary length", rq(verification, ui(wireItem(itemUserIdentityRQ, []byte{1, 0}, be16(5), []byte("alice")))), AbortInvalidParamValue},
		{"user identity secondary short", rq(verification, ui(wireItem(itemUserIdentityRQ, []byte{2, 0}, be16(5), []byte("alice"), be16(9), []byte("secret")))), AbortInvalidParamValue},
		{"user identity trailing bytes", rq(verification, ui(wireItem(itemUserIdentityRQ, []byte{2, 0}, be16(5), []byte("alice"), be16(2), []byte("secret")))), AbortInvalidParamValue},
		{"A-ASSOCIATE-AC shorter than its fixed part", wirePDU(pduAssociateAC, fixed[:10]), AbortInvalidParamValue},
		{"presentation context answer of 2 bytes", ac(wireItem(itemPresentationAC, []byte{1, 0})), AbortInvalidParamValue},
		{"presentation context answer sub-item overruns", ac(wireItem(itemPresentationAC, []byte{1, 0, 0, 0}, []byte{0x40, 0, 1, 0})), AbortInvalidParamValue},
		{"user identity response of 1 byte", ac(ui(wireMaxLength(0), wireItem(itemUserIdentityAC, []byte{0}))), AbortInvalidParamValue},
		{"user identity response length mismatch", ac(ui(wireMaxLength(0), wireItem(itemUserIdentityAC, be16(4), []byte("ab")))), AbortInvalidParamValue},
		{"A-ASSOCIATE-RJ of 3 bytes", wirePDU(pduAssociateRJ, []byte{0, 1, 1}), AbortInvalidParamValue},
		{"A-ASSOCIATE-RJ of 5 bytes", wirePDU(pduAssociateRJ, []byte{0, 1, 1, 7, 0}), AbortInvalidParamValue},
		{"A-RELEASE-RQ of 0 bytes", wirePDU(pduReleaseRQ), AbortInvalidParamValue},
		{"A-RELEASE-RP of 6 bytes", wirePDU(pduReleaseRP, make([]byte, 6)), AbortInvalidParamValue},
		{"A-ABORT of 2 bytes", wirePDU(pduAbort, []byte{0, 0}), AbortInvalidParamValue},
		{"P-DATA-TF without PDVs", wirePDU(pduPData), AbortInvalidParamValue},
		{"PDV length 0", wirePDU(pduPData, be32(0), []byte{1, 3}), AbortInvalidParamValue},
		{"PDV length 1", wirePDU(pduPData, be32(1), []byte{1, 3}), AbortInvalidParamValue},
		{"PDV length overruns the PDU", wirePDU(pduPData, be32(10), []byte{1, 3}, []byte("abc")), AbortInvalidParamValue},
		{"PDV length 0xFFFFFFFF", wirePDU(pduPData, be32(-1), []byte{1, 3}, []byte("abc")), AbortInvalidParamValue},
		{"PDV header truncated", wirePDU(pduPData, be32(3), []byte{1, 3, 'x'}, []byte{0, 0, 0, 2, 1}), AbortInvalidParamValue},
		{"bytes after the last PDV", wirePDU(pduPData, be32(3), []byte{1, 3, 'x'}, []byte{0, 0}), AbortInvalidParamValue},
		{"PDU type 0x09", wirePDU(0x09, []byte{0, 0, 0, 0}), AbortUnrecognizedPDU},
		{"PDU type 0x00", wirePDU(0x00), AbortUnrecognizedPDU},
		{"PDU type 0xFF", wirePDU(0xFF, make([]byte, 100)), AbortUnrecognizedPDU},
		{"PDU type 0x08", wirePDU(0x08, make([]byte, 4)), AbortUnrecognizedPDU},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readPDU(bytes.NewReader(tc.in), 0)
			wantProtocolError(t, err, tc.reason)
		})
	}
}

func TestReadPDULimits(t *testing.T) {
	t.Run("control PDU of 0x7FFFFFFF bytes is refused before allocating", func(t *testing.T) {
		for _, typ := range []byte{pduAssociateRQ, pduAssociateAC, pduAbort, 0x09} {
			hdr := []byte{typ, 0, 0x7F, 0xFF, 0xFF, 0xFF}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := readPDU(io.MultiReader(bytes.NewReader(hdr), neverEnding{}), 0)
			runtime.ReadMemStats(&after)
			wantProtocolError(t, err, AbortInvalidParamValue)
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Fatalf("type %#02x: %d bytes allocated", typ, d)
			}
		}
	})
	t.Run("control PDU just under the limit is read", func(t *testing.T) {
		b := wirePDU(pduAssociateRQ, fixed68(), wireAppContext(), wireItem(0x7E, make([]byte, 60000)))
		for len(b) < maxControlPDU-70000 {
			b = append(b, wireItem(0x7E, make([]byte, 60000))...)
		}
		binary.BigEndian.PutUint32(b[2:], uint32(len(b)-6))
		if _, err := readPDU(bytes.NewReader(b), 0); err != nil {
			t.Fatalf("%d-byte A-ASSOCIATE-RQ: %v", len(b), err)
		}
		over := wirePDU(pduAssociateRQ, make([]byte, maxControlPDU+1))
		_, err := readPDU(bytes.NewReader(over), 0)
		wantProtocolError(t, err, AbortInvalidParamValue)
	})
	t.Run("P-DATA-TF over maxPData", func(t *testing.T) {
		b := wirePDU(pduPData, be32(2+100), []byte{1, 2}, make([]byte, 100))
		if _, err := readPDU(bytes.NewReader(b), 106); err != nil {
			t.Fatalf("P-DATA-TF at the limit: %v", err)
		}
		_, err := readPDU(bytes.NewReader(b), 105)
		wantProtocolError(t, err, AbortInvalidParamValue)
	})
	t.Run("truncated input is not a protocol error", func(t *testing.T) {
		full := wireRQ(wireAppContext())
		for _, n := range []int{1, 5, 6, 40, len(full) - 1} {
			_, err := readPDU(bytes.NewReader(full[:n]), 0)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(full), err)
			}
		}
		if _, err := readPDU(bytes.NewReader(nil), 0); err != io.EOF {
			t.Fatalf("no bytes: %v, want io.EOF", err)
		}
	})
}

func fixed68() []byte { return wireFixed(1, "MOLAR", "SCU") }

// neverEnding yields zero bytes forever.
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestEncodeOversizedItem: an item value over 65535 bytes cannot be
// written; encoding must not wrap its 16-bit length into a PDU that parses
// as something else. With a 65526-byte identity the user information
// item's length wraps to 8: the peer sees the maximum length sub-item
// only, then skips the identity as an unknown top-level item, and the
// association goes out without the identity the caller set.
func TestEncodeOversizedItem(t *testing.T) {
	for _, n := range []int{65526, 70000} {
		rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "SCU", ApplicationContext: ApplicationContext,
			Contexts: []ContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}},
			User: UserInfo{MaxLength: 16384, Identity: &UserIdentity{Type: IdentityJWT,
				Primary: bytes.Repeat([]byte{'j'}, n)}}}
		b := rq.encode()
		got, err := readPDU(bytes.NewReader(b), 0)
		if err == nil && !reflect.DeepEqual(got, rq) {
			t.Errorf("a %d-byte user identity encoded into a PDU that decodes without error as something else: identity %s",
				n, identitySummary(got))
		}
	}
}

func identitySummary(p pdu) string {
	rq, ok := p.(*AssociateRQ)
	if !ok || rq.User.Identity == nil {
		return "none"
	}
	return fmt.Sprintf("type %d, primary of %d bytes", rq.User.Identity.Type, len(rq.User.Identity.Primary))
}

// recordConn is a net.Conn that keeps what is written to it.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.buf.Write(p) }
func (c *recordConn) Bytes() []byte               { return c.buf.Bytes() }
