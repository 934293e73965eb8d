package dcm

import (
	"bytes"
	"fmt"
)

// Segment is a run of bytes in the stored stream.
type Segment struct {
	Offset int64
	Length int64
}

// Frame is where one frame's bytes lie: one segment for native pixel data,
// one or more fragments for encapsulated data.
type Frame []Segment

// Size returns the frame's length in bytes.
func (f Frame) Size() int64 {
	var n int64
	for _, s := range f {
		n += s.Length
	}
	return n
}

// FrameTable locates the frames of an instance's pixel data. Native frames
// are computed from one offset and size rather than listed, so memory does
// not grow with a hostile file's count of tiny frames; encapsulated frames
// are bounded by the parser's fragment limit.
type FrameTable struct {
	Count int
	// Native pixel data: frame i is NativeSize bytes at NativeOffset+i*NativeSize.
	NativeOffset, NativeSize int64
	// Encapsulated pixel data: each frame's fragments (len == Count).
	Fragmented []Frame
}

// Len returns the number of frames; a nil table has none.
func (t *FrameTable) Len() int {
	if t == nil {
		return 0
	}
	return t.Count
}

// At returns frame i (0-based), which must be < Len().
func (t *FrameTable) At(i int) Frame {
	if t.Fragmented != nil {
		return t.Fragmented[i]
	}
	return Frame{{Offset: t.NativeOffset + int64(i)*t.NativeSize, Length: t.NativeSize}}
}

// All lists every frame.
func (t *FrameTable) All() []Frame {
	out := make([]Frame, t.Len())
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// Frames locates every frame of the dataset's top-level pixel data. It
// returns nil for a dataset without pixel data.
func Frames(ds *Dataset) (*FrameTable, error) {
	pd := ds.Find(PixelData)
	if pd == nil || pd.Length == 0 {
		return nil, nil
	}
	n, ok := ds.Int(NumberOfFrames)
	if !ok || n < 1 {
		n = 1
	}
	if pd.Encapsulated {
		frames, err := encapsulatedFrames(ds, pd, n)
		if err != nil {
			return nil, err
		}
		return &FrameTable{Count: len(frames), Fragmented: frames}, nil
	}
	rows, _ := ds.Int(Rows)
	cols, _ := ds.Int(Columns)
	bits, _ := ds.Int(BitsAllocated)
	spp, ok := ds.Int(SamplesPerPixel)
	if !ok {
		spp = 1
	}
	if pi := ds.String(PhotometricInterpretation); pi == "YBR_FULL_422" || pi == "YBR_PARTIAL_422" {
		// Chroma is halved horizontally: each pair of pixels is stored as
		// Y Y Cb Cr, two samples per pixel, not three (PS3.3 C.7.6.3.1.2).
		spp = 2
	}
	frameBits := int64(rows) * int64(cols) * int64(spp) * int64(bits)
	if frameBits <= 0 {
		return nil, fmt.Errorf("pixel data without usable Rows, Columns and Bits Allocated")
	}
	if frameBits%8 != 0 && n > 1 {
		return nil, fmt.Errorf("frames of %d bits do not start on byte boundaries", frameBits)
	}
	size := (frameBits + 7) / 8
	if size*int64(n) > int64(pd.Length) {
		return nil, fmt.Errorf("pixel data holds %d bytes, %d frames of %d bytes need %d", pd.Length, n, size, size*int64(n))
	}
	return &FrameTable{Count: n, NativeOffset: pd.Offset, NativeSize: size}, nil
}

func encapsulatedFrames(ds *Dataset, pd *Element, n int) ([]Frame, error) {
	frags := pd.Fragments
	if len(frags) == 0 {
		return nil, fmt.Errorf("encapsulated pixel data without fragments")
	}
	whole := func(fs []Fragment) Frame {
		f := make(Frame, len(fs))
		for i, x := range fs {
			f[i] = Segment{Offset: x.Offset, Length: int64(x.Length)}
		}
		return f
	}
	if n == 1 {
		return []Frame{whole(frags)}, nil
	}
	// Offsets in the BOT and the extended offset table count from the first
	// fragment's item tag, which sits 8 bytes before its value.
	base := frags[0].Offset - 8
	if starts := extendedOffsets(ds); len(starts) == n {
		return groupByOffsets(frags, base, starts, whole)
	}
	if len(pd.BasicOffsetTable) == n {
		starts := make([]int64, n)
		for i, o := range pd.BasicOffsetTable {
			starts[i] = int64(o)
		}
		return groupByOffsets(frags, base, starts, whole)
	}
	if len(frags) == n {
		frames := make([]Frame, n)
		for i := range frags {
			frames[i] = whole(frags[i : i+1])
		}
		return frames, nil
	}
	// No table: a fragment that opens a codestream opens a frame.
	var frames []Frame
	begin := -1
	for i, f := range frags {
		if startsCodestream(f.Head) {
			if begin >= 0 {
				frames = append(frames, whole(frags[begin:i]))
			}
			begin = i
		}
	}
	if begin >= 0 {
		frames = append(frames, whole(frags[begin:]))
	}
	if len(frames) != n {
		return nil, fmt.Errorf("cannot find the boundaries of %d frames among %d fragments without an offset table", n, len(frags))
	}
	return frames, nil
}

func extendedOffsets(ds *Dataset) []int64 {
	e := ds.Find(ExtendedOffsetTable)
	if e == nil || len(e.Value) < 8 {
		return nil
	}
	bo := ds.ByteOrder()
	out := make([]int64, len(e.Value)/8)
	for i := range out {
		out[i] = int64(bo.Uint64(e.Value[8*i:]))
	}
	return out
}

func groupByOffsets(frags []Fragment, base int64, starts []int64, whole func([]Fragment) Frame) ([]Frame, error) {
	frames := make([]Frame, 0, len(starts))
	fi := 0
	for k, start := range starts {
		if k > 0 && start <= starts[k-1] {
			// Else a frame would get no fragments, or another's.
			return nil, fmt.Errorf("offset table entry %d (%d) does not follow entry %d (%d)", k, start, k-1, starts[k-1])
		}
		// Find the fragment whose item begins at start.
		for fi < len(frags) && frags[fi].Offset-8-base < start {
			fi++
		}
		if fi == len(frags) || frags[fi].Offset-8-base != start {
			return nil, fmt.Errorf("offset table entry %d (%d) is not the start of a fragment", k, start)
		}
		end := len(frags)
		if k+1 < len(starts) {
			end = fi
			for end < len(frags) && frags[end].Offset-8-base < starts[k+1] {
				end++
			}
		}
		frames = append(frames, whole(frags[fi:end]))
		fi = end
	}
	return frames, nil
}

func startsCodestream(head []byte) bool {
	return bytes.HasPrefix(head, []byte{0xFF, 0xD8}) || // JPEG, JPEG-LS SOI
		bytes.HasPrefix(head, []byte{0xFF, 0x4F, 0xFF, 0x51}) || // JPEG 2000 SOC+SIZ
		bytes.HasPrefix(head, []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' '}) // JP2 signature box
}
