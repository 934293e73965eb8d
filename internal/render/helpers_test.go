package render

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// syntax returns the transfer syntax with the given UID.
func syntax(uid string) dcm.TransferSyntax {
	ts, _ := dcm.LookupTransferSyntax(uid)
	return ts
}

// mono returns the Info of a rows×cols MONOCHROME2 frame of the given bits
// in explicit VR little endian; tests change what they need.
func mono(rows, cols, allocated, stored int) Info {
	return Info{
		Rows: rows, Columns: cols, SamplesPerPixel: 1, Photometric: Monochrome2,
		BitsAllocated: allocated, BitsStored: stored, HighBit: stored - 1,
		NumberOfFrames: 1, RescaleSlope: 1, VOIFunction: Linear,
		TransferSyntax: syntax(dcm.ExplicitVRLittleEndian),
	}
}

// colour returns the Info of a rows×cols 8-bit frame of three samples.
func colour(rows, cols int, pi Photometric, planar int) Info {
	in := mono(rows, cols, 8, 8)
	in.SamplesPerPixel, in.Photometric, in.PlanarConfiguration = 3, pi, planar
	return in
}

// le16 encodes values as 16-bit little endian samples.
func le16(values ...uint16) []byte {
	var b []byte
	for _, v := range values {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// be16 encodes values as 16-bit big endian samples.
func be16(values ...uint16) []byte {
	var b []byte
	for _, v := range values {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// rleEncode compresses native little endian pixel data, samples
// interleaved, as one RLE Lossless frame (PS3.5 Annex G): a segment per
// byte of each sample, most significant byte first, each segment padded
// to an even length.
func rleEncode(native []byte, samples, bytesPerSample int) []byte {
	segments := samples * bytesPerSample
	pixels := len(native) / segments
	frame := make([]byte, 64)
	binary.LittleEndian.PutUint32(frame, uint32(segments))
	plane := make([]byte, pixels)
	for s := range segments {
		binary.LittleEndian.PutUint32(frame[4+4*s:], uint32(len(frame)))
		at := s/bytesPerSample*bytesPerSample + bytesPerSample - 1 - s%bytesPerSample
		for p := range plane {
			plane[p] = native[p*segments+at]
		}
		frame = packBits(frame, plane)
		if len(frame)%2 == 1 {
			frame = append(frame, 0x80) // a no-op packet
		}
	}
	return frame
}

// packBits appends b coded as PS3.5 G.3.1 packets: a replicate run for
// each run of two or more equal bytes, literal runs for the rest.
func packBits(dst, b []byte) []byte {
	for len(b) > 0 {
		run := 1
		for run < len(b) && run < 128 && b[run] == b[0] {
			run++
		}
		if run >= 2 {
			dst = append(dst, byte(1-run), b[0])
			b = b[run:]
			continue
		}
		lit := 1
		for lit < len(b) && lit < 128 && (lit+1 >= len(b) || b[lit] != b[lit+1]) {
			lit++
		}
		dst = append(dst, byte(lit-1))
		dst = append(dst, b[:lit]...)
		b = b[lit:]
	}
	return dst
}

// wantErr fails t unless err wraps target (nil: unless err is nil).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: got error %v, want one wrapping %q", what, err, target)
	}
}

// element is a dataset element for datasets built by hand.
type element struct {
	tag   dcm.Tag
	vr    dcm.VR
	value []byte
}

func us(t dcm.Tag, v uint16) element {
	return element{t, dcm.US, binary.LittleEndian.AppendUint16(nil, v)}
}

func text(t dcm.Tag, vr dcm.VR, s string) element { return element{t, vr, []byte(s)} }

// dataset builds a little endian dataset of the elements, in tag order as
// Find expects.
func dataset(els ...element) *dcm.Dataset {
	ds := &dcm.Dataset{}
	for _, e := range els {
		ds.Elements = append(ds.Elements, &dcm.Element{Tag: e.tag, VR: e.vr, Length: uint32(len(e.value)), Value: e.value})
	}
	slices.SortFunc(ds.Elements, func(a, b *dcm.Element) int { return cmp.Compare(a.Tag, b.Tag) })
	return ds
}
