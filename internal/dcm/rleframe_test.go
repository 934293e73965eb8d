package dcm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// packedRLEFrame builds an RLE frame from segments encoded by packBits;
// rleFrame (transcode_test.go) writes literal runs only.
func packedRLEFrame(segments ...[]byte) []byte {
	out := make([]byte, 64)
	binary.LittleEndian.PutUint32(out, uint32(len(segments)))
	for i, s := range segments {
		binary.LittleEndian.PutUint32(out[4+4*i:], uint32(len(out)))
		out = append(out, packBits(s)...)
	}
	return out
}

// packBits encodes b with a repeat run for each run of 3 or more equal
// bytes and literal runs otherwise: both kinds of PS3.5 G.3.1 packets.
func packBits(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && j-i < 128 && b[j] == b[i] {
			j++
		}
		if j-i >= 3 {
			out = append(out, byte(int8(1-(j-i))), b[i])
			i = j
			continue
		}
		j = i
		for j < len(b) && j-i < 128 && (j+2 >= len(b) || b[j] != b[j+1] || b[j] != b[j+2]) {
			j++
		}
		if j == i {
			j = i + 1
		}
		out = append(out, byte(j-i-1))
		out = append(out, b[i:j]...)
		i = j
	}
	return out
}

func TestDecodeRLEFrame(t *testing.T) {
	// 5000 pixels of 2 samples of 2 bytes: more than one 4096-pixel chunk.
	const pixels = 5000
	want := make([]byte, pixels*4)
	for i := range want {
		want[i] = byte(i / 7 % 251)
	}
	// Segment s is byte 1-s%2 (little endian) of sample s/2.
	segs := make([][]byte, 4)
	for s := range segs {
		at := s/2*2 + 1 - s%2
		for p := 0; p < pixels; p++ {
			segs[s] = append(segs[s], want[p*4+at])
		}
	}
	got := make([]byte, len(want))
	if err := dcm.DecodeRLEFrame(got, packedRLEFrame(segs...), 2, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("decoded frame differs from the encoded pixels")
	}

	one := bytes.Repeat([]byte{9}, 300)
	got = make([]byte, 300)
	if err := dcm.DecodeRLEFrame(got, packedRLEFrame(one), 1, 1); err != nil || !bytes.Equal(got, one) {
		t.Errorf("one segment: err %v, equal %v", err, bytes.Equal(got, one))
	}
}

func TestDecodeRLEFrameMalformed(t *testing.T) {
	good := packedRLEFrame([]byte{1, 2, 3, 4})
	badOffset := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badOffset[4:], 1000)
	for _, tc := range []struct {
		name  string
		frame []byte
		size  int
	}{
		{"short header", good[:20], 4},
		{"wrong segment count", rleFrame([]byte{1, 2}, []byte{3, 4}), 4},
		{"offset past end", badOffset, 4},
		{"too few bytes", good, 8},
		{"repeat without byte", append(bytes.Clone(good[:64]), 0xFE), 4},
	} {
		err := dcm.DecodeRLEFrame(make([]byte, tc.size), tc.frame, 1, 1)
		if !errors.Is(err, dcm.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", tc.name, err)
		}
	}
	if err := dcm.DecodeRLEFrame(make([]byte, 3), good, 1, 2); err == nil || errors.Is(err, dcm.ErrMalformed) {
		t.Errorf("odd destination for 2-byte samples: got %v, want an argument error", err)
	}
}
