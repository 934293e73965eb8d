package dimse

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Command fields (PS3.7 E.1).
const (
	CStoreRQ  = 0x0001
	CStoreRSP = 0x8001
	CGetRQ    = 0x0010
	CGetRSP   = 0x8010
	CFindRQ   = 0x0020
	CFindRSP  = 0x8020
	CMoveRQ   = 0x0021
	CMoveRSP  = 0x8021
	CEchoRQ   = 0x0030
	CEchoRSP  = 0x8030
	CCancelRQ = 0x0FFF
)

// noDataSet is the Command Data Set Type meaning "no data set follows".
const noDataSet = 0x0101

// maxCommandSet bounds a command set's size; real ones are a few hundred bytes.
const maxCommandSet = 64 << 10

// Command element tags (group 0000).
const (
	tagCommandGroupLength             = 0x00000000
	tagAffectedSOPClassUID            = 0x00000002
	tagRequestedSOPClassUID           = 0x00000003
	tagCommandField                   = 0x00000100
	tagMessageID                      = 0x00000110
	tagMessageIDRespondedTo           = 0x00000120
	tagMoveDestination                = 0x00000600
	tagPriority                       = 0x00000700
	tagCommandDataSetType             = 0x00000800
	tagStatus                         = 0x00000900
	tagOffendingElement               = 0x00000901
	tagErrorComment                   = 0x00000902
	tagErrorID                        = 0x00000903
	tagAffectedSOPInstanceUID         = 0x00001000
	tagRequestedSOPInstanceUID        = 0x00001001
	tagRemainingSubops                = 0x00001020
	tagCompletedSubops                = 0x00001021
	tagFailedSubops                   = 0x00001022
	tagWarningSubops                  = 0x00001023
	tagMoveOriginatorAE               = 0x00001030
	tagMoveOriginatorMessageID        = 0x00001031
	maxErrorComment                   = 64 // LO
	priorityMedium             uint16 = 0
)

// Command is a DIMSE command set with the elements Molar reads and writes.
type Command struct {
	Field                  uint16
	MessageID              uint16
	RespondingTo           uint16 // Message ID Being Responded To (responses, C-CANCEL)
	AffectedSOPClassUID    string
	AffectedSOPInstanceUID string
	MoveDestination        string
	Priority               uint16
	HasDataSet             bool
	Status                 uint16
	OffendingElements      []dcm.Tag
	ErrorComment           string
	// Sub-operation counts of C-MOVE and C-GET responses; nil when absent.
	// Remaining < 0 leaves that element out (final responses).
	SubOps *SubOps
	// MoveOriginatorAE and MoveOriginatorID are set on C-STORE-RQs that are
	// C-MOVE sub-operations.
	MoveOriginatorAE string
	MoveOriginatorID uint16
}

// SubOps counts C-MOVE / C-GET sub-operations.
type SubOps struct {
	Remaining, Completed, Failed, Warning int
}

// IsResponse reports whether the command is a response (high bit set).
func (c *Command) IsResponse() bool { return c.Field&0x8000 != 0 }

func (c *Command) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id=%d", commandName(c.Field), c.MessageID)
	if c.IsResponse() || c.Field == CCancelRQ {
		fmt.Fprintf(&b, " re=%d", c.RespondingTo)
	}
	if c.IsResponse() {
		fmt.Fprintf(&b, " status=%04X", c.Status)
	}
	return b.String()
}

func commandName(f uint16) string {
	switch f {
	case CStoreRQ:
		return "C-STORE-RQ"
	case CStoreRSP:
		return "C-STORE-RSP"
	case CGetRQ:
		return "C-GET-RQ"
	case CGetRSP:
		return "C-GET-RSP"
	case CFindRQ:
		return "C-FIND-RQ"
	case CFindRSP:
		return "C-FIND-RSP"
	case CMoveRQ:
		return "C-MOVE-RQ"
	case CMoveRSP:
		return "C-MOVE-RSP"
	case CEchoRQ:
		return "C-ECHO-RQ"
	case CEchoRSP:
		return "C-ECHO-RSP"
	case CCancelRQ:
		return "C-CANCEL-RQ"
	}
	return fmt.Sprintf("command %#04x", f)
}

// encode writes the command set in Implicit VR Little Endian, as PS3.7 6.3.1
// requires whatever the presentation context's transfer syntax.
func (c *Command) encode() []byte {
	var body []byte
	ui := func(t uint32, s string) {
		if s != "" {
			v := []byte(s)
			if len(v)%2 == 1 {
				v = append(v, 0)
			}
			body = appendCmdElement(body, t, v)
		}
	}
	us := func(t uint32, v uint16) {
		body = appendCmdElement(body, t, binary.LittleEndian.AppendUint16(nil, v))
	}
	text := func(t uint32, s string) {
		if s != "" {
			v := []byte(s)
			if len(v)%2 == 1 {
				v = append(v, ' ')
			}
			body = appendCmdElement(body, t, v)
		}
	}
	ui(tagAffectedSOPClassUID, c.AffectedSOPClassUID)
	us(tagCommandField, c.Field)
	if c.IsResponse() || c.Field == CCancelRQ {
		us(tagMessageIDRespondedTo, c.RespondingTo)
	} else {
		us(tagMessageID, c.MessageID)
	}
	if c.Field == CMoveRQ {
		text(tagMoveDestination, c.MoveDestination)
	}
	if !c.IsResponse() && c.Field != CEchoRQ && c.Field != CCancelRQ {
		us(tagPriority, c.Priority)
	}
	dst := uint16(noDataSet)
	if c.HasDataSet {
		dst = 0x0000
	}
	us(tagCommandDataSetType, dst)
	if c.IsResponse() {
		us(tagStatus, c.Status)
		if len(c.OffendingElements) > 0 {
			var v []byte
			for _, t := range c.OffendingElements {
				v = binary.LittleEndian.AppendUint16(v, t.Group())
				v = binary.LittleEndian.AppendUint16(v, t.Element())
			}
			body = appendCmdElement(body, tagOffendingElement, v)
		}
		text(tagErrorComment, truncateComment(c.ErrorComment))
	}
	ui(tagAffectedSOPInstanceUID, c.AffectedSOPInstanceUID)
	if s := c.SubOps; s != nil {
		if s.Remaining >= 0 {
			us(tagRemainingSubops, uint16(min(s.Remaining, 0xFFFF)))
		}
		us(tagCompletedSubops, uint16(min(s.Completed, 0xFFFF)))
		us(tagFailedSubops, uint16(min(s.Failed, 0xFFFF)))
		us(tagWarningSubops, uint16(min(s.Warning, 0xFFFF)))
	}
	if c.MoveOriginatorAE != "" {
		text(tagMoveOriginatorAE, c.MoveOriginatorAE)
		us(tagMoveOriginatorMessageID, c.MoveOriginatorID)
	}
	out := appendCmdElement(make([]byte, 0, 12+len(body)), tagCommandGroupLength, binary.LittleEndian.AppendUint32(nil, uint32(len(body))))
	return append(out, body...)
}

// truncateComment keeps an error comment within LO's 64 characters,
// printable ASCII only, since it is written without a character set.
func truncateComment(s string) string {
	b := make([]byte, 0, min(len(s), maxErrorComment))
	for i := 0; i < len(s) && len(b) < maxErrorComment; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '\\' {
			c = ' '
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

func appendCmdElement(dst []byte, tag uint32, value []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(tag>>16))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(tag))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// decodeCommand reads a command set (Implicit VR Little Endian, group 0000).
// Elements Molar does not use are skipped; anything outside group 0000 or
// overrunning the buffer is an error.
func decodeCommand(b []byte) (*Command, error) {
	c := &Command{HasDataSet: true}
	var haveField, haveDST bool
	var counts [4]int
	haveCount := false
	counts[0] = -1
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("command set: element header truncated (%d bytes left)", len(b))
		}
		group := binary.LittleEndian.Uint16(b)
		tag := uint32(group)<<16 | uint32(binary.LittleEndian.Uint16(b[2:]))
		n := binary.LittleEndian.Uint32(b[4:])
		if group != 0 {
			return nil, fmt.Errorf("command set: element %s is not in group 0000", dcm.Tag(tag))
		}
		if uint64(n) > uint64(len(b)-8) {
			return nil, fmt.Errorf("command set: element %s of length %d overruns the %d bytes left", dcm.Tag(tag), n, len(b)-8)
		}
		v := b[8 : 8+n]
		b = b[8+n:]
		us := func() (uint16, error) {
			if len(v) != 2 {
				return 0, fmt.Errorf("command set: element %s is %d bytes, want 2 (US)", dcm.Tag(tag), len(v))
			}
			return binary.LittleEndian.Uint16(v), nil
		}
		var err error
		switch tag {
		case tagAffectedSOPClassUID, tagRequestedSOPClassUID:
			if c.AffectedSOPClassUID == "" || tag == tagAffectedSOPClassUID {
				c.AffectedSOPClassUID = trimUID(v)
			}
		case tagAffectedSOPInstanceUID, tagRequestedSOPInstanceUID:
			if c.AffectedSOPInstanceUID == "" || tag == tagAffectedSOPInstanceUID {
				c.AffectedSOPInstanceUID = trimUID(v)
			}
		case tagCommandField:
			c.Field, err = us()
			haveField = err == nil
		case tagMessageID:
			c.MessageID, err = us()
		case tagMessageIDRespondedTo:
			c.RespondingTo, err = us()
		case tagMoveDestination:
			c.MoveDestination = trimAE(v)
		case tagPriority:
			c.Priority, err = us()
		case tagCommandDataSetType:
			var d uint16
			d, err = us()
			c.HasDataSet = d != noDataSet
			haveDST = err == nil
		case tagStatus:
			c.Status, err = us()
		case tagOffendingElement:
			for i := 0; i+4 <= len(v); i += 4 {
				c.OffendingElements = append(c.OffendingElements, dcm.NewTag(binary.LittleEndian.Uint16(v[i:]), binary.LittleEndian.Uint16(v[i+2:])))
			}
		case tagErrorComment:
			c.ErrorComment = strings.TrimRight(string(v), " \x00")
		case tagRemainingSubops, tagCompletedSubops, tagFailedSubops, tagWarningSubops:
			var x uint16
			x, err = us()
			counts[tag-tagRemainingSubops] = int(x)
			haveCount = true
		case tagMoveOriginatorAE:
			c.MoveOriginatorAE = trimAE(v)
		case tagMoveOriginatorMessageID:
			c.MoveOriginatorID, err = us()
		}
		if err != nil {
			return nil, err
		}
	}
	if !haveField {
		return nil, fmt.Errorf("command set without Command Field (0000,0100)")
	}
	if !haveDST {
		return nil, fmt.Errorf("%s without Command Data Set Type (0000,0800)", commandName(c.Field))
	}
	if haveCount {
		c.SubOps = &SubOps{Remaining: counts[0], Completed: counts[1], Failed: counts[2], Warning: counts[3]}
	}
	return c, nil
}
