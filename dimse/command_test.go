package dimse

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// cmdElem is one command element as PS3.7 6.3.1 encodes it: Implicit VR
// Little Endian, group, element, 4-byte length, value.
func cmdElem(group, element uint16, value []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, group)
	b = binary.LittleEndian.AppendUint16(b, element)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// withGroupLength prefixes elements with (0000,0000).
func withGroupLength(elements ...[]byte) []byte {
	body := cat(elements...)
	return cat(cmdElem(0, 0, binary.LittleEndian.AppendUint32(nil, uint32(len(body)))), body)
}

const (
	ioSOPClass   = "1.2.840.10008.5.1.4.1.1.1.3"
	anInstance   = "1.2.826.0.1.3680043.10.1001.3"  // 29 characters: NUL padded
	evenInstance = "1.2.826.0.1.3680043.10.1001.33" // 30 characters
)

// commandSamples is one command of each kind, with the elements each
// kind carries; the fuzz target uses them as seeds.
var commandSamples = []struct {
	name string
	cmd  Command
}{
	{"C-ECHO-RQ", Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass}},
	{"C-ECHO-RSP", Command{Field: CEchoRSP, RespondingTo: 1, AffectedSOPClassUID: VerificationSOPClass, Status: StatusSuccess}},
	{"C-STORE-RQ", Command{Field: CStoreRQ, MessageID: 0xFFFF, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: evenInstance,
		Priority: 1, HasDataSet: true}},
	{"C-STORE-RQ as a C-MOVE sub-operation", Command{Field: CStoreRQ, MessageID: 12, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: evenInstance,
		Priority: 2, HasDataSet: true, MoveOriginatorAE: "MOVESCU", MoveOriginatorID: 4}},
	{"C-STORE-RSP warning", Command{Field: CStoreRSP, RespondingTo: 12, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: anInstance,
		Status: StatusCoercion, ErrorComment: "Specific Character Set coerced"}},
	{"C-STORE-RSP failure with offending elements", Command{Field: CStoreRSP, RespondingTo: 3, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: anInstance,
		Status: StatusDataSetMismatch, OffendingElements: []dcm.Tag{dcm.PatientID, dcm.NewTag(0x0029, 0x1010)}, ErrorComment: "no Patient ID"}},
	{"C-FIND-RQ", Command{Field: CFindRQ, MessageID: 5, AffectedSOPClassUID: StudyRootFind, HasDataSet: true}},
	{"C-FIND-RSP pending", Command{Field: CFindRSP, RespondingTo: 5, AffectedSOPClassUID: StudyRootFind, Status: StatusPending, HasDataSet: true}},
	{"C-FIND-RSP failure", Command{Field: CFindRSP, RespondingTo: 5, AffectedSOPClassUID: StudyRootFind, Status: StatusDataSetMismatch,
		OffendingElements: []dcm.Tag{dcm.QueryRetrieveLevel}, ErrorComment: "Study Root has no PATIENT level"}},
	{"C-FIND-RSP cancel", Command{Field: CFindRSP, RespondingTo: 5, AffectedSOPClassUID: StudyRootFind, Status: StatusCancel}},
	{"C-MOVE-RQ", Command{Field: CMoveRQ, MessageID: 6, AffectedSOPClassUID: StudyRootMove, MoveDestination: "WORKSTATION_1", HasDataSet: true}},
	{"C-MOVE-RQ odd destination", Command{Field: CMoveRQ, MessageID: 6, AffectedSOPClassUID: PatientRootMove, MoveDestination: "DST", HasDataSet: true}},
	{"C-MOVE-RSP pending", Command{Field: CMoveRSP, RespondingTo: 6, AffectedSOPClassUID: StudyRootMove, Status: StatusPending,
		SubOps: &SubOps{Remaining: 7, Completed: 2, Failed: 1, Warning: 0}}},
	{"C-MOVE-RSP final with failures", Command{Field: CMoveRSP, RespondingTo: 6, AffectedSOPClassUID: StudyRootMove, Status: StatusSubopsFailures,
		SubOps: &SubOps{Remaining: -1, Completed: 9, Failed: 1, Warning: 2}, HasDataSet: true}},
	{"C-MOVE-RSP cancel", Command{Field: CMoveRSP, RespondingTo: 6, AffectedSOPClassUID: StudyRootMove, Status: StatusCancel,
		SubOps: &SubOps{Remaining: 0xFFFF, Completed: 0xFFFF, Failed: 0, Warning: 0}}},
	{"C-GET-RQ", Command{Field: CGetRQ, MessageID: 8, AffectedSOPClassUID: StudyRootGet, HasDataSet: true}},
	{"C-GET-RSP", Command{Field: CGetRSP, RespondingTo: 8, AffectedSOPClassUID: StudyRootGet, Status: StatusSuccess,
		SubOps: &SubOps{Remaining: -1, Completed: 3}}},
	{"C-CANCEL-RQ", Command{Field: CCancelRQ, RespondingTo: 5}},
	{"unrecognised operation response", Command{Field: 0x8099, RespondingTo: 2, Status: StatusUnrecognizedOperation, ErrorComment: strings.Repeat("0123456789", 7)[:64]}},
}

func TestCommandRoundTrip(t *testing.T) {
	for _, tc := range commandSamples {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.cmd.encode()
			checkCommandSet(t, b)
			got, err := decodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.cmd) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", *got, tc.cmd)
			}
		})
	}
}

// checkCommandSet checks the structure PS3.7 6.3.1 and E.1 ask for: group
// 0000 only, ascending tags, even lengths, a correct group length first.
func checkCommandSet(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 12 || binary.LittleEndian.Uint32(b) != 0 || binary.LittleEndian.Uint32(b[4:]) != 4 {
		t.Fatalf("command set does not start with (0000,0000) UL: % x", b[:min(len(b), 12)])
	}
	if gl := binary.LittleEndian.Uint32(b[8:]); int(gl) != len(b)-12 {
		t.Fatalf("group length %d, %d bytes follow", gl, len(b)-12)
	}
	prev := uint32(0)
	for rest := b[12:]; len(rest) > 0; {
		tag := uint32(binary.LittleEndian.Uint16(rest))<<16 | uint32(binary.LittleEndian.Uint16(rest[2:]))
		n := binary.LittleEndian.Uint32(rest[4:])
		if tag>>16 != 0 || tag <= prev || n%2 != 0 || int(n) > len(rest)-8 {
			t.Fatalf("element %s of length %d after %s", dcm.Tag(tag), n, dcm.Tag(prev))
		}
		prev = tag
		rest = rest[8+n:]
	}
}

func TestCommandEncoding(t *testing.T) {
	t.Run("odd UID padded with NUL, odd text with space", func(t *testing.T) {
		b := (&Command{Field: CMoveRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass, MoveDestination: "DST", HasDataSet: true}).encode()
		if !bytes.Contains(b, cmdElem(0, 0x0002, []byte(VerificationSOPClass+"\x00"))) {
			t.Errorf("(0000,0002) not NUL padded: % x", b)
		}
		if !bytes.Contains(b, cmdElem(0, 0x0600, []byte("DST "))) {
			t.Errorf("(0000,0600) not space padded: % x", b)
		}
		if !bytes.Contains(b, cmdElem(0, 0x0800, le16(0x0000))) {
			t.Errorf("Command Data Set Type is not 0000 with a data set: % x", b)
		}
	})
	t.Run("no data set is 0101", func(t *testing.T) {
		b := (&Command{Field: CEchoRSP, RespondingTo: 1}).encode()
		if !bytes.Contains(b, cmdElem(0, 0x0800, le16(0x0101))) {
			t.Errorf("Command Data Set Type: % x", b)
		}
	})
	t.Run("error comment cut to 64 printable characters", func(t *testing.T) {
		comment := "bad\tvalue\\in (0010,0020): é " + strings.Repeat("x", 80)
		b := (&Command{Field: CStoreRSP, RespondingTo: 1, Status: StatusDataSetMismatch, ErrorComment: comment}).encode()
		checkCommandSet(t, b)
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		want := "bad value in (0010,0020):    " + strings.Repeat("x", 64-len("bad value in (0010,0020):    "))
		if got.ErrorComment != want {
			t.Fatalf("comment %q (%d), want %q", got.ErrorComment, len(got.ErrorComment), want)
		}
	})
	t.Run("error comment of spaces and controls only is left out", func(t *testing.T) {
		b := (&Command{Field: CStoreRSP, RespondingTo: 1, Status: StatusProcessingFailure, ErrorComment: " \r\n "}).encode()
		if bytes.Contains(b, []byte{0x00, 0x00, 0x02, 0x09}) {
			t.Fatalf("empty (0000,0902) written: % x", b)
		}
	})
	t.Run("sub-operation counts saturate at 65535", func(t *testing.T) {
		b := (&Command{Field: CGetRSP, RespondingTo: 1, Status: StatusPending, SubOps: &SubOps{Remaining: 70000, Completed: 1 << 20}}).encode()
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := (SubOps{Remaining: 0xFFFF, Completed: 0xFFFF}); *got.SubOps != want {
			t.Fatalf("sub-operations %+v", *got.SubOps)
		}
	})
}

func TestDecodeCommandTolerates(t *testing.T) {
	t.Run("Requested SOP Class and Instance UID, unknown group 0000 elements, no group length", func(t *testing.T) {
		b := cat(
			cmdElem(0, 0x0003, []byte(ioSOPClass+"\x00")),
			cmdElem(0, 0x0100, le16(CFindRSP)),
			cmdElem(0, 0x0120, le16(9)),
			cmdElem(0, 0x0800, le16(0x0102)), // any value but 0101: a data set follows
			cmdElem(0, 0x0900, le16(StatusPending)),
			cmdElem(0, 0x0903, le16(0x1234)), // Error ID: skipped
			cmdElem(0, 0x1001, []byte(anInstance+" ")),
			cmdElem(0, 0x1002, le16(1)), // Event Type ID: skipped
			cmdElem(0, 0x4000, nil),
		)
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		want := Command{Field: CFindRSP, RespondingTo: 9, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: anInstance,
			HasDataSet: true, Status: StatusPending}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v\nwant %+v", *got, want)
		}
	})
	t.Run("Affected SOP Class UID wins over Requested", func(t *testing.T) {
		for _, order := range [][2]uint16{{0x0002, 0x0003}, {0x0003, 0x0002}} {
			uid := map[uint16]string{0x0002: "1.2.3.4", 0x0003: "5.6.7.8"}
			b := cat(cmdElem(0, order[0], []byte(uid[order[0]])), cmdElem(0, order[1], []byte(uid[order[1]])),
				cmdElem(0, 0x0100, le16(CEchoRQ)), cmdElem(0, 0x0800, le16(0x0101)))
			got, err := decodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.AffectedSOPClassUID != "1.2.3.4" {
				t.Fatalf("order %04x: SOP class %q", order, got.AffectedSOPClassUID)
			}
		}
	})
	t.Run("offending element list with a trailing odd byte count", func(t *testing.T) {
		b := cat(cmdElem(0, 0x0100, le16(CStoreRSP)), cmdElem(0, 0x0800, le16(0x0101)),
			cmdElem(0, 0x0901, []byte{0x10, 0x00, 0x20, 0x00, 0x08, 0x00}))
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.OffendingElements, []dcm.Tag{dcm.PatientID}) {
			t.Fatalf("offending %v", got.OffendingElements)
		}
	})
}

func TestDecodeCommandErrors(t *testing.T) {
	field := cmdElem(0, 0x0100, le16(CEchoRQ))
	dst := cmdElem(0, 0x0800, le16(0x0101))
	tests := []struct {
		name string
		in   []byte
		want string // in the error text
	}{
		{"empty", nil, "without Command Field"},
		{"element outside group 0000", cat(field, dst, cmdElem(0x0008, 0x0016, []byte("1.2"))), "(0008,0016) is not in group 0000"},
		{"data set element first", cat(cmdElem(0x0010, 0x0010, []byte("DOE^JOHN")), field, dst), "not in group 0000"},
		{"element overruns", cat(field, dst, cmdElem(0, 0x0002, []byte("1.2.840"))[:12]), "overruns"},
		{"length 0xFFFFFFFF", cat(field, []byte{0, 0, 0, 8, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1}), "overruns"},
		{"element header truncated", cat(field, dst, []byte{0, 0, 2, 0, 4}), "truncated"},
		{"missing Command Field", cat(withGroupLength(cmdElem(0, 0x0110, le16(1)), dst)), "without Command Field"},
		{"missing Command Data Set Type", withGroupLength(field, cmdElem(0, 0x0110, le16(1))), "without Command Data Set Type"},
		{"Command Field of 4 bytes", cat(cmdElem(0, 0x0100, []byte{0x30, 0, 0, 0}), dst), "(0000,0100) is 4 bytes, want 2"},
		{"Command Field of 1 byte", cat(cmdElem(0, 0x0100, []byte{0x30}), dst), "want 2"},
		{"Message ID of 4 bytes", cat(field, cmdElem(0, 0x0110, []byte{1, 0, 0, 0}), dst), "(0000,0110) is 4 bytes"},
		{"Message ID Being Responded To empty", cat(field, cmdElem(0, 0x0120, nil), dst), "(0000,0120) is 0 bytes"},
		{"Priority of 3 bytes", cat(field, cmdElem(0, 0x0700, []byte{0, 0, 0}), dst), "(0000,0700)"},
		{"Command Data Set Type of 4 bytes", cat(field, cmdElem(0, 0x0800, []byte{1, 1, 0, 0})), "(0000,0800) is 4 bytes"},
		{"Status of 4 bytes", cat(field, dst, cmdElem(0, 0x0900, []byte{0, 0, 0, 0})), "(0000,0900)"},
		{"Completed Sub-operations of 4 bytes", cat(field, dst, cmdElem(0, 0x1021, []byte{1, 0, 0, 0})), "(0000,1021)"},
		{"Move Originator Message ID of 1 byte", cat(field, dst, cmdElem(0, 0x1031, []byte{1})), "(0000,1031)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCommand(tc.in)
			if err == nil {
				t.Fatalf("decoded %+v", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// dcmtkCommand returns the command set in a recorded single-PDV P-DATA-TF.
func dcmtkCommand(t *testing.T, name string) []byte {
	t.Helper()
	b := readOneCapture(t, name)
	if len(b) < 12 || b[0] != pduPData || b[11] != 0x03 || int(binary.BigEndian.Uint32(b[6:]))+10 != len(b) {
		t.Fatalf("%s is not one last command PDV: % x", name, b[:min(len(b), 12)])
	}
	return b[12:]
}

// TestCommandMatchesDCMTK compares our encoding with command sets DCMTK
// 3.6.7 sent (see capture_test.go).
func TestCommandMatchesDCMTK(t *testing.T) {
	t.Run("echoscu C-ECHO-RQ byte for byte", func(t *testing.T) {
		want := dcmtkCommand(t, "echoscu-01-rq-pdata-command.pdu")
		got := (&Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass}).encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("C-ECHO-RQ:\n ours  % x\n DCMTK % x", got, want)
		}
	})
	t.Run("storescp C-ECHO-RSP byte for byte", func(t *testing.T) {
		want := dcmtkCommand(t, "storescp-01-ac-pdata-command.pdu")
		got := (&Command{Field: CEchoRSP, RespondingTo: 1, AffectedSOPClassUID: VerificationSOPClass, Status: StatusSuccess}).encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("C-ECHO-RSP:\n ours  % x\n DCMTK % x", got, want)
		}
	})
	t.Run("storescp C-STORE-RSP byte for byte", func(t *testing.T) {
		want := dcmtkCommand(t, "storescp-02-ac-pdata-command.pdu")
		got := (&Command{Field: CStoreRSP, RespondingTo: 2, AffectedSOPClassUID: ioSOPClass, AffectedSOPInstanceUID: anInstance, Status: StatusSuccess}).encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("C-STORE-RSP:\n ours  % x\n DCMTK % x", got, want)
		}
	})
	// DCMTK writes Command Data Set Type 0001 for "data set present", we
	// write 0000; PS3.7 E.1-1 lets any value but 0101 mean present. Apart
	// from that value, re-encoding what DCMTK sent gives its bytes.
	for _, name := range []string{"storescu-01-rq-pdata-command.pdu", "findscu-01-rq-pdata-command.pdu"} {
		t.Run(name, func(t *testing.T) {
			want := dcmtkCommand(t, name)
			cmd, err := decodeCommand(want)
			if err != nil {
				t.Fatal(err)
			}
			if !cmd.HasDataSet {
				t.Fatalf("%+v: no data set", cmd)
			}
			dcmtkPresent := cmdElem(0, 0x0800, le16(0x0001))
			if !bytes.Contains(want, dcmtkPresent) {
				t.Fatalf("DCMTK's Command Data Set Type is not 0001: % x", want)
			}
			want = bytes.Replace(bytes.Clone(want), dcmtkPresent, cmdElem(0, 0x0800, le16(0x0000)), 1)
			if got := cmd.encode(); !bytes.Equal(got, want) {
				t.Fatalf("%s:\n ours  % x\n DCMTK % x", cmd, got, want)
			}
		})
	}
}
