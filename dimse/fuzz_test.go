package dimse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Seed corpora: testdata/fuzz/FuzzReadPDU and testdata/fuzz/FuzzDecodeCommand
// hold PDUs and command sets recorded from DCMTK (capture_test.go); the
// f.Add seeds below are hand-built ones, well-formed and not.

// FuzzReadPDU feeds arbitrary bytes to readPDU and decodePDU. Whatever they
// return must be a PDU or a *ProtocolError (or a short read), and a PDU
// that decodes must survive being encoded and decoded again.
func FuzzReadPDU(f *testing.F) {
	verification := wireContextRQ(1, VerificationSOPClass, dcm.ImplicitVRLittleEndian)
	f.Add(wireRQ(wireAppContext(), verification, wireItem(itemUserInformation, wireMaxLength(16384))))
	f.Add(wireRQ(wireAppContext(), verification, wireItem(itemUserInformation, wireMaxLength(0),
		wireItem(itemRoleSelection, be16(3), []byte("1.2"), []byte{0, 1}),
		wireItem(itemAsyncOps, be16(2), be16(1)),
		wireItem(itemUserIdentityRQ, []byte{2, 1}, be16(5), []byte("alice"), be16(6), []byte("secret")),
		wireItem(0x56, be16(3), []byte("1.2"), []byte{1}))))
	f.Add(wireRQ(wireAppContext(), wireContextRQ(2, VerificationSOPClass)))
	f.Add(wirePDU(pduAssociateAC, fixed68(), wireAppContext(),
		wireItem(itemPresentationAC, []byte{1, 0, 0, 0}, wireItem(itemTransferSyntax, []byte(dcm.ExplicitVRLittleEndian))),
		wireItem(itemPresentationAC, []byte{3, 0, 3, 0}),
		wireItem(itemUserInformation, wireMaxLength(16384), wireItem(itemUserIdentityAC, be16(3), []byte("tkt")))))
	f.Add((&AssociateRJ{Result: 1, Source: 1, Reason: 7}).encode())
	f.Add((&Abort{Source: 2, Reason: 6}).encode())
	f.Add(encodeRelease(pduReleaseRQ))
	f.Add(encodeRelease(pduReleaseRP))
	f.Add(wirePDU(pduPData, be32(2+3), []byte{1, 3}, []byte("abc"), be32(2), []byte{3, 0}))
	f.Add(wirePDU(pduPData, be32(1), []byte{1, 3}))
	f.Add(wirePDU(0x09, []byte{0, 0, 0, 0}))
	f.Add([]byte{0x01, 0x00, 0x7F, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, maxPData := range []uint32{0, 64} {
			p, err := readPDU(bytes.NewReader(data), maxPData)
			checkPDUResult(t, p, err, true)
		}
		if len(data) > 0 {
			p, err := decodePDU(data[0], data[1:])
			checkPDUResult(t, p, err, false)
		}
	})
}

func checkPDUResult(t *testing.T, p pdu, err error, reading bool) {
	t.Helper()
	if err != nil {
		var pe *ProtocolError
		switch {
		case errors.As(err, &pe):
			switch pe.Reason {
			case AbortUnrecognizedPDU, AbortUnexpectedPDU, AbortUnrecognizedParam, AbortUnexpectedParam, AbortInvalidParamValue:
			default:
				t.Fatalf("ProtocolError with A-ABORT reason %d: %v", pe.Reason, err)
			}
		case reading && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)):
		default:
			t.Fatalf("error %v (%T) is neither a *ProtocolError nor a short read", err, err)
		}
		if v := reflect.ValueOf(p); p != nil && !(v.Kind() == reflect.Pointer || v.Kind() == reflect.Slice) || p != nil && !v.IsNil() {
			// A typed nil (decodePDU returns decodeAssociateRQ's results
			// as they are) is fine; a value is not.
			t.Fatalf("PDU %#v returned with error %v", p, err)
		}
		return
	}
	switch p := p.(type) {
	case *AssociateRQ:
		if p.ApplicationContext == "" {
			t.Fatal("A-ASSOCIATE-RQ decoded without an application context")
		}
		seen := map[byte]bool{}
		for _, pc := range p.Contexts {
			if pc.ID%2 == 0 || seen[pc.ID] {
				t.Fatalf("presentation context ID %d decoded (even or repeated)", pc.ID)
			}
			seen[pc.ID] = true
		}
		b := p.encode()
		if b == nil {
			// The encoder refuses values too long for their fields.
			if !rqOverLimits(p) {
				t.Fatalf("A-ASSOCIATE-RQ within PS3.7/PS3.8 limits not encoded: %#v", p)
			}
			return
		}
		again, err := readPDU(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", p, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("A-ASSOCIATE-RQ round trip:\n got %#v\nwant %#v", again, p)
		}
	case *AssociateAC:
		b := p.encode()
		if b == nil {
			if !userOverLimits(&p.User) && len(p.ApplicationContext) <= 64 {
				t.Fatalf("A-ASSOCIATE-AC within PS3.7/PS3.8 limits not encoded: %#v", p)
			}
			return
		}
		again, err := readPDU(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", p, err)
		}
		// A refused context without a transfer syntax sub-item gets one
		// on the way out (PS3.8 9.3.3.2); otherwise nothing changes.
		want := *p
		want.Contexts = append([]ContextAC(nil), p.Contexts...)
		for i, pc := range want.Contexts {
			if pc.Result != ResultAcceptance && pc.TransferSyntax == "" {
				want.Contexts[i].TransferSyntax = dcm.ImplicitVRLittleEndian
			}
		}
		if !reflect.DeepEqual(again, &want) {
			t.Fatalf("A-ASSOCIATE-AC round trip:\n got %#v\nwant %#v", again, &want)
		}
	case *AssociateRJ:
		if again, err := readPDU(bytes.NewReader(p.encode()), 0); err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("A-ASSOCIATE-RJ round trip: %#v, %v", again, err)
		}
	case *Abort:
		if again, err := readPDU(bytes.NewReader(p.encode()), 0); err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("A-ABORT round trip: %#v, %v", again, err)
		}
	case pdata:
		if len(p) == 0 {
			t.Fatal("P-DATA-TF decoded without PDVs")
		}
		again, err := readPDU(bytes.NewReader(encodePDataForTest(p)), 0)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("P-DATA-TF round trip: %#v, %v", again, err)
		}
	case releaseRQ, releaseRP:
	default:
		t.Fatalf("decoded %T", p)
	}
}

// rqOverLimits reports whether rq holds a value longer than PS3.8 and
// PS3.7 allow (a UID over 64 characters, an implementation version name
// over 16) or an item over 65535 bytes: what an encoder may refuse.
func rqOverLimits(rq *AssociateRQ) bool {
	if len(rq.ApplicationContext) > 64 || userOverLimits(&rq.User) {
		return true
	}
	for _, pc := range rq.Contexts {
		n := 4 + 4 + len(pc.AbstractSyntax)
		for _, ts := range pc.TransferSyntaxes {
			n += 4 + len(ts)
			if len(ts) > 64 {
				return true
			}
		}
		if len(pc.AbstractSyntax) > 64 || n > 0xFFFF {
			return true
		}
	}
	return false
}

func userOverLimits(u *UserInfo) bool {
	if len(u.ImplementationClassUID) > 64 || len(u.ImplementationVersion) > 16 {
		return true
	}
	n := 8 + 4 + len(u.ImplementationClassUID) + 4 + len(u.ImplementationVersion) + 8
	for _, r := range u.Roles {
		if len(r.SOPClassUID) > 64 {
			return true
		}
		n += 8 + len(r.SOPClassUID)
	}
	if id := u.Identity; id != nil {
		n += 10 + len(id.Primary) + len(id.Secondary)
	}
	if u.IdentityResponse != nil {
		n += 6 + len(*u.IdentityResponse)
	}
	return n > 0xFFFF
}

// encodePDataForTest writes PDVs as one P-DATA-TF (PS3.8 9.3.5).
func encodePDataForTest(pd pdata) []byte {
	var body []byte
	for _, v := range pd {
		body = binary.BigEndian.AppendUint32(body, uint32(2+len(v.Data)))
		var mch byte
		if v.Command {
			mch |= 1
		}
		if v.Last {
			mch |= 2
		}
		body = append(body, v.ContextID, mch)
		body = append(body, v.Data...)
	}
	return wirePDU(pduPData, body)
}

// FuzzDecodeCommand feeds arbitrary bytes to decodeCommand. A command set
// that decodes must re-encode into a well-formed one that decodes to the
// same command, less the elements its kind does not carry.
func FuzzDecodeCommand(f *testing.F) {
	for _, s := range commandSamples {
		f.Add(s.cmd.encode())
	}
	f.Add(cat(cmdElem(0, 0x0100, le16(CEchoRQ)), cmdElem(0, 0x0800, le16(0x0101)), cmdElem(0, 0x0900, le16(0xC000)),
		cmdElem(0, 0x0902, []byte("comment\x00")), cmdElem(0, 0x1031, le16(3))))
	f.Add(cat(cmdElem(0, 0x0100, le16(CMoveRSP)), cmdElem(0, 0x0800, le16(1)), cmdElem(0, 0x1022, le16(5))))
	f.Add(cat(cmdElem(0, 0x0100, []byte{1})))
	f.Add(cat(cmdElem(8, 0x0016, []byte("1.2"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			if c != nil {
				t.Fatalf("command %+v returned with error %v", c, err)
			}
			return
		}
		b := c.encode()
		checkCommandSet(t, b)
		again, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", c, err)
		}
		want := commandAsEncoded(*c)
		if !reflect.DeepEqual(*again, want) {
			t.Fatalf("command round trip:\n got %+v\nwant %+v", *again, want)
		}
		if b2 := again.encode(); !bytes.Equal(b2, b) {
			t.Fatalf("second encoding differs:\n% x\n% x", b2, b)
		}
	})
}

// commandAsEncoded is c less what Command.encode leaves out for c's kind:
// Command.encode writes the elements PS3.7 Annex E lists for each
// command, not every element decodeCommand reads.
func commandAsEncoded(c Command) Command {
	cancel := c.Field == CCancelRQ
	if c.IsResponse() || cancel {
		c.MessageID = 0
	} else {
		c.RespondingTo = 0
	}
	if c.Field != CMoveRQ {
		c.MoveDestination = ""
	}
	if c.IsResponse() || c.Field == CEchoRQ || cancel {
		c.Priority = 0
	}
	if c.IsResponse() {
		c.ErrorComment = truncateComment(c.ErrorComment)
		if len(c.OffendingElements) == 0 {
			c.OffendingElements = nil
		}
	} else {
		c.Status, c.OffendingElements, c.ErrorComment = 0, nil, ""
	}
	if c.MoveOriginatorAE == "" {
		c.MoveOriginatorID = 0
	}
	return c
}
