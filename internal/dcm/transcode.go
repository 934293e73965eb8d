package dcm

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// ErrCannotTranscode is wrapped by Transcode's error when it has no way from
// one transfer syntax to the other (a codec it lacks, or pixel data the
// target cannot hold).
var ErrCannotTranscode = errors.New("cannot transcode")

// Tags the transcoder reads or rewrites on the way through.
const (
	planarConfiguration   Tag = 0x00280006
	waveformBitsAllocated Tag = 0x54001004
	waveformData          Tag = 0x54001010
	channelMinimumValue   Tag = 0x54000110
	channelMaximumValue   Tag = 0x54000112
	waveformPaddingValue  Tag = 0x5400100A
)

var (
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
	chunkPool  = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}
	// PS3.5 A.5 leaves the level to the writer; the default is the usual
	// balance of speed and size.
	deflaterPool = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.DefaultCompression)
		return w
	}}
)

// copyBufferSize is the chunk values are copied and byte-swapped in. It is
// a multiple of 8, so no value unit (at most 8 bytes) straddles two chunks.
const copyBufferSize = 32 << 10

// Transcode reads a bare dataset (no preamble or file meta information)
// encoded in from and writes it to w encoded in to.
//
// It works element by element in bounded memory: values go through a
// fixed-size buffer, so a 200 MB pixel data value is never held whole, and
// sequences and items are written with undefined lengths and delimiters so
// nothing needs to be measured ahead. Group length elements are dropped (the
// lengths change). Binary values are byte-swapped by VR when the byte order
// changes; implicit VR input takes its VRs from the data dictionary (Pixel
// Data, Overlay Data and Waveform Data as PS3.5 A.1 and 8.3 say, pixel value
// attributes US or SS by Pixel Representation, unknown tags UN), and a value
// too long for the 16-bit length of its explicit VR is written as UN (OW for
// US or SS, as LUT Data).
//
// Any pair among Implicit VR Little Endian, Explicit VR Little Endian,
// Explicit VR Big Endian and Deflated Explicit VR Little Endian works, and
// RLE Lossless to any of them: its frames are decoded into native pixel data
// with samples interleaved (Planar Configuration is written as 0, inserted if
// absent). Decoding RLE holds one compressed frame in memory, because the
// byte planes of a frame follow one another and the output interleaves them.
// When from and to are the same the bytes are copied through unchanged. Any
// other pair fails with an error wrapping ErrCannotTranscode before anything
// is read or written; so does, on the way, RLE pixel data native pixel data
// cannot hold (bits allocated not a multiple of 8, over 4 GiB). Input that
// ends early or is malformed fails with ErrTruncated or ErrMalformed. After
// an error w may hold part of the dataset.
func Transcode(w io.Writer, r io.Reader, from, to TransferSyntax) error {
	if from.UID == to.UID {
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("copying dataset: %w", err)
		}
		return nil
	}
	if !CanTranscode(from, to) {
		return fmt.Errorf("%w from %s to %s", ErrCannotTranscode, from.Name, to.Name)
	}

	// Buffers are pooled: a DIMSE association may transcode many small
	// datasets in a row.
	in := bufPool.Get().(*bufio.Reader)
	in.Reset(r)
	defer func() { in.Reset(nil); bufPool.Put(in) }()
	chunk := chunkPool.Get().(*[copyBufferSize]byte)
	defer chunkPool.Put(chunk)
	t := &transcoder{
		r:   in,
		rle: from.UID == RLELossless,
		buf: chunk[:],
		out: coding{bo: binary.LittleEndian, implicit: to.ImplicitVR},
		top: newImageState(),
	}
	if to.BigEndian {
		t.out.bo = binary.BigEndian
	}
	inCoding := coding{bo: binary.LittleEndian, implicit: from.ImplicitVR}
	if from.BigEndian {
		inCoding.bo = binary.BigEndian
	}
	if from.Deflated {
		// PS3.5 A.5: the whole dataset is one raw deflate stream.
		fr := flate.NewReader(in)
		defer fr.Close()
		inflated := bufPool.Get().(*bufio.Reader)
		inflated.Reset(fr)
		defer func() { inflated.Reset(nil); bufPool.Put(inflated) }()
		t.r = inflated
	}
	var fw *flate.Writer
	sink := w
	if to.Deflated {
		// A compressor is over a megabyte of state: reuse it.
		fw = deflaterPool.Get().(*flate.Writer)
		fw.Reset(w)
		defer deflaterPool.Put(fw)
		sink = fw
	}
	t.w = writerPool.Get().(*bufio.Writer)
	t.w.Reset(sink)
	defer func() { t.w.Reset(nil); writerPool.Put(t.w) }()

	if err := t.dataset(t.top, inCoding, endOfStream); err != nil {
		return err
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("writing transcoded dataset: %w", err)
	}
	if fw != nil {
		if err := fw.Close(); err != nil {
			return fmt.Errorf("writing transcoded dataset: %w", err)
		}
	}
	return nil
}

// isNative reports whether ts is one Transcode can write: pixel data native,
// the dataset plain or deflated.
// CanTranscode reports whether Transcode converts from → to: the same
// syntax, or to a native syntax from a native one or RLE Lossless.
func CanTranscode(from, to TransferSyntax) bool {
	return from.UID == to.UID || isNative(to) && (isNative(from) || from.UID == RLELossless)
}

func isNative(ts TransferSyntax) bool {
	switch ts.UID {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian:
		return true
	}
	return false
}

// coding is how elements are encoded: byte order and whether VRs are written.
type coding struct {
	bo       byteOrder
	implicit bool
}

// implicitLE is how the content of an undefined-length UN is encoded
// whatever the transfer syntax (PS3.5 6.2.2).
var implicitLE = coding{bo: binary.LittleEndian, implicit: true}

// Where a dataset ends: at the end of the stream, at an item delimiter, or
// (any value >= 0) at that input position.
const (
	endOfStream  = -1
	endDelimited = -2
)

// imageState remembers, per dataset (the top level or an item), the image
// attributes met so far: tags ascend, so they are known before the Pixel
// Data or Waveform Data they describe.
type imageState struct {
	rows, columns, samples, bitsAllocated, frames int
	pixelRepresentation                           int // -1 when absent
	waveformBits                                  int
	planarWritten                                 bool
}

func newImageState() *imageState { return &imageState{pixelRepresentation: -1} }

type transcoder struct {
	r     *bufio.Reader
	w     *bufio.Writer
	pos   int64 // bytes of (inflated) input consumed
	out   coding
	rle   bool // decode encapsulated pixel data as RLE
	buf   []byte
	plane []byte // RLE byte planes before interleaving
	comp  []byte // one compressed RLE frame
	hdr   [12]byte
	top   *imageState
	depth int
}

// readErr turns a failed read of what into ErrTruncated (the input ended)
// or ErrMalformed (the deflate stream is corrupt).
func (t *transcoder) readErr(what string, at int64, err error) error {
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: %s at offset %d", ErrTruncated, what, at)
	case isCorruptDeflate(err):
		return fmt.Errorf("%w: %s at offset %d: %v", ErrMalformed, what, at, err)
	}
	return fmt.Errorf("reading %s at offset %d: %w", what, at, err)
}

func writeErr(err error) error {
	return fmt.Errorf("writing transcoded dataset: %w", err)
}

func (t *transcoder) read(n int, what string) ([]byte, error) {
	at := t.pos
	b := t.hdr[:n]
	m, err := io.ReadFull(t.r, b)
	t.pos += int64(m)
	if err != nil {
		return nil, t.readErr(what, at, err)
	}
	return b, nil
}

// dataset transcodes elements until end (endOfStream, endDelimited or an
// input position).
func (t *transcoder) dataset(st *imageState, in coding, end int64) error {
	if t.depth > maxDepth {
		return fmt.Errorf("%w: sequences nested deeper than %d", ErrMalformed, maxDepth)
	}
	for {
		if end >= 0 && t.pos >= end {
			if t.pos > end {
				return fmt.Errorf("%w: item overruns its declared length at offset %d", ErrMalformed, end)
			}
			t.endDataset(st)
			return nil
		}
		if end == endOfStream {
			if _, err := t.r.Peek(1); err == io.EOF {
				t.endDataset(st)
				return nil
			}
		}
		start := t.pos
		b, err := t.read(4, "element tag")
		if err != nil {
			return err
		}
		tag := NewTag(in.bo.Uint16(b), in.bo.Uint16(b[2:]))
		if tag.Group() == 0xFFFE {
			b, err := t.read(4, "length of "+tag.String())
			if err != nil {
				return err
			}
			switch {
			case tag == ItemDelimitationItem && end == endDelimited:
				t.endDataset(st)
				return nil
			case tag == SequenceDelimitationItem && end == endOfStream && in.bo.Uint32(b) == 0:
				// A stray delimiter some writers leave at the top level.
				continue
			}
			return fmt.Errorf("%w: unexpected %s at offset %d", ErrMalformed, tag, start)
		}
		if err := t.element(st, in, tag, start); err != nil {
			return err
		}
	}
}

// endDataset finishes a dataset: Planar Configuration is due if no later
// tag has brought it out yet.
func (t *transcoder) endDataset(st *imageState) {
	t.insertPlanar(st, 0xFFFFFFFF)
}

// insertPlanar writes Planar Configuration = 0 before the element with tag
// next when RLE is being decoded into colour pixels and the dataset has not
// had one: decoded frames are interleaved, and PS3.3 C.7.6.3 requires the
// attribute whenever Samples per Pixel is above 1.
func (t *transcoder) insertPlanar(st *imageState, next Tag) {
	if !t.rle || st.samples <= 1 || st.planarWritten || next <= planarConfiguration {
		return
	}
	st.planarWritten = true
	t.writeHeader(planarConfiguration, US, 2)
	t.w.Write([]byte{0, 0})
}

// element transcodes one element whose tag has been read.
func (t *transcoder) element(st *imageState, in coding, tag Tag, start int64) error {
	var vr VR
	var length uint32
	if in.implicit {
		b, err := t.read(4, "length of "+tag.String())
		if err != nil {
			return err
		}
		length = in.bo.Uint32(b)
		vr = DictionaryVR(tag)
		if length == UndefinedLength && tag != PixelData {
			vr = SQ
		}
	} else {
		b, err := t.read(2, "VR of "+tag.String())
		if err != nil {
			return err
		}
		vr = VR(uint16(b[0])<<8 | uint16(b[1]))
		if vr.Known() && !vr.HasLongLength() {
			b, err = t.read(2, "length of "+tag.String())
			if err != nil {
				return err
			}
			length = uint32(in.bo.Uint16(b))
		} else {
			// Unknown VRs have the long form (PS3.5 7.1.2) and are UN to us.
			b, err = t.read(6, "length of "+tag.String())
			if err != nil {
				return err
			}
			length = in.bo.Uint32(b[2:])
			if !vr.Known() {
				vr = UN
			}
		}
	}
	t.insertPlanar(st, tag)

	switch {
	case tag.IsGroupLength() && length != UndefinedLength:
		// Lengths change on the way; PS3.5 7.2 makes group lengths optional.
		return t.skip(tag, length)
	case t.rle && (tag == ExtendedOffsetTable || tag == ExtendedOffsetTableLengths) && length != UndefinedLength:
		// They index encapsulated frames, which are decoded.
		return t.skip(tag, length)
	case length == UndefinedLength && tag == PixelData:
		if !t.rle {
			return fmt.Errorf("%w: encapsulated pixel data at offset %d in a native transfer syntax", ErrMalformed, start)
		}
		return t.rlePixelData(st, in)
	case tag == PixelData && vr == SQ:
		return fmt.Errorf("%w: %s is a sequence at offset %d", ErrMalformed, tag, start)
	case vr == SQ:
		return t.sequence(tag, length, in)
	case length == UndefinedLength && vr == UN:
		// An undefined-length UN is a sequence in implicit VR little endian
		// (PS3.5 6.2.2); written as SQ, its items take the output coding.
		return t.sequence(tag, length, implicitLE)
	case length == UndefinedLength:
		return fmt.Errorf("%w: %s (%s) has undefined length at offset %d", ErrMalformed, tag, vr, start)
	case t.out.implicit && !in.implicit && DictionaryVR(tag) == SQ:
		// An implicit VR reader takes this tag for a sequence. A UN holds
		// one in implicit VR little endian (PS3.5 6.2.2), which can be
		// written as such; any other VR would be misread.
		if vr != UN {
			return fmt.Errorf("%w: %s, a sequence, has VR %s at offset %d, which implicit VR cannot carry", ErrMalformed, tag, vr, start)
		}
		return t.sequence(tag, length, implicitLE)
	}

	outVR := vr
	if in.implicit {
		outVR = t.implicitVR(st, tag, vr)
	}
	// PS3.5 7.1.1 requires even lengths; some writers forget the padding.
	padded := length + length%2
	if !t.out.implicit && !outVR.HasLongLength() && padded > 0xFFFF {
		// Only implicit VR input gets here. US or SS too long is LUT Data
		// ("US or OW"); anything else can only be UN, whose bytes stay in
		// the little endian order they came in.
		if outVR.FixedSize() == 2 {
			outVR = OW
		} else {
			outVR = UN
		}
	}
	unit := 0
	if in.bo != t.out.bo {
		// By the VR the value is written with: for implicit VR input that
		// is the choice made above (8-bit Pixel Data is OB, not the
		// dictionary's OW), and UN stays in the order it came in.
		unit = swapUnit(outVR)
	}

	if length <= 64 && isImageAttribute(tag) {
		return t.imageAttribute(st, in, tag, outVR, length, unit)
	}
	t.writeHeader(tag, outVR, padded)
	if err := t.copyValue(tag, length, unit); err != nil {
		return err
	}
	if padded != length {
		t.w.WriteByte(padByte(outVR))
	}
	return nil
}

// padByte is what pads a value of vr to even length (PS3.5 6.2).
func padByte(vr VR) byte {
	if vr.IsText() && vr != UI {
		return ' '
	}
	return 0
}

// implicitVR chooses the explicit VR of an element read without one where
// the dictionary gives a choice.
func (t *transcoder) implicitVR(st *imageState, tag Tag, vr VR) VR {
	switch {
	case tag == PixelData:
		// PS3.5 A.2 allows OB up to 8 bits allocated; like DCMTK, keep
		// it to 8 (1-bit images are OW).
		if st.bitsAllocated == 8 {
			return OB
		}
		return OW
	case tag.Group()&0xFF00 == 0x6000 && tag.Group()%2 == 0 && tag.Element() == 0x3000:
		// Overlay Data read with implicit VR is OW (PS3.5 8.1.2).
		return OW
	case tag == waveformData || tag == channelMinimumValue || tag == channelMaximumValue || tag == waveformPaddingValue:
		// PS3.5 8.3: OB for 8-bit waveforms, OW otherwise.
		if st.waveformBits == 8 {
			return OB
		}
		return OW
	case vr == US && pixelValueTags[tag]:
		rep := st.pixelRepresentation
		if rep < 0 {
			rep = t.top.pixelRepresentation
		}
		if rep == 1 {
			return SS
		}
	}
	return vr
}

// swapUnit returns the size of the units whose bytes are reversed when a
// value of vr changes byte order, or 0 for byte strings. AT is a pair of
// 16-bit numbers, so it swaps in halves.
func swapUnit(vr VR) int {
	switch vr {
	case US, SS, OW, AT:
		return 2
	case UL, SL, FL, OF, OL:
		return 4
	case FD, OD, SV, UV, OV:
		return 8
	}
	return 0
}

func swapBytes(b []byte, unit int) {
	switch unit {
	case 2:
		for i := 0; i+2 <= len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+4 <= len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
	case 8:
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.BigEndian.Uint64(b[i:]))
		}
	}
}

func isImageAttribute(t Tag) bool {
	switch t {
	case Rows, Columns, SamplesPerPixel, BitsAllocated, NumberOfFrames, PixelRepresentation, planarConfiguration, waveformBitsAllocated:
		return true
	}
	return false
}

// imageAttribute transcodes a short value the transcoder needs to know (or,
// for Planar Configuration, to rewrite).
func (t *transcoder) imageAttribute(st *imageState, in coding, tag Tag, vr VR, length uint32, unit int) error {
	at := t.pos
	v := make([]byte, length)
	n, err := io.ReadFull(t.r, v)
	t.pos += int64(n)
	if err != nil {
		return t.valueErr(tag, length, at, err)
	}
	number := -1
	switch {
	case tag == NumberOfFrames:
		// IS; "" or nonsense leaves the default of one frame.
		if n, err := strconv.Atoi(strings.Trim(string(v), " \x00")); err == nil && n > 0 {
			number = n
		}
	case len(v) >= 2:
		number = int(in.bo.Uint16(v))
	}
	switch tag {
	case Rows:
		st.rows = number
	case Columns:
		st.columns = number
	case SamplesPerPixel:
		st.samples = number
	case BitsAllocated:
		st.bitsAllocated = number
	case NumberOfFrames:
		st.frames = number
	case PixelRepresentation:
		st.pixelRepresentation = number
	case waveformBitsAllocated:
		st.waveformBits = number
	case planarConfiguration:
		if t.rle && st.samples > 1 {
			st.planarWritten = true
			v = in.bo.AppendUint16(v[:0], 0)
		}
	}
	swapBytes(v, unit)
	if len(v)%2 == 1 {
		v = append(v, padByte(vr))
	}
	t.writeHeader(tag, vr, uint32(len(v)))
	t.w.Write(v)
	return nil
}

// writeHeader writes an element header in the output coding. Write errors
// stick in the bufio.Writer and are reported when values are copied and at
// the final flush.
func (t *transcoder) writeHeader(tag Tag, vr VR, length uint32) {
	bo := t.out.bo
	b := bo.AppendUint16(t.hdr[:0], tag.Group())
	b = bo.AppendUint16(b, tag.Element())
	switch {
	case t.out.implicit:
		b = bo.AppendUint32(b, length)
	case vr.HasLongLength():
		b = append(b, byte(vr>>8), byte(vr), 0, 0)
		b = bo.AppendUint32(b, length)
	default:
		b = append(b, byte(vr>>8), byte(vr))
		b = bo.AppendUint16(b, uint16(length))
	}
	t.w.Write(b)
}

// writeItemHeader writes an item or delimiter header.
func (t *transcoder) writeItemHeader(tag Tag, length uint32) {
	b := t.out.bo.AppendUint16(t.hdr[:0], tag.Group())
	b = t.out.bo.AppendUint16(b, tag.Element())
	t.w.Write(t.out.bo.AppendUint32(b, length))
}

// copyValue copies length bytes of tag's value through the buffer,
// reversing each unit-byte group.
func (t *transcoder) copyValue(tag Tag, length uint32, unit int) error {
	at := t.pos
	for rest := int64(length); rest > 0; {
		chunk := t.buf[:min(rest, int64(len(t.buf)))]
		n, err := io.ReadFull(t.r, chunk)
		t.pos += int64(n)
		if err != nil {
			return t.valueErr(tag, length, at, err)
		}
		swapBytes(chunk, unit)
		if _, err := t.w.Write(chunk); err != nil {
			return writeErr(err)
		}
		rest -= int64(n)
	}
	return nil
}

func (t *transcoder) valueErr(tag Tag, length uint32, at int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s declares %d bytes at offset %d, only %d remain", ErrTruncated, tag, length, at, t.pos-at)
	}
	return t.readErr("value of "+tag.String(), at, err)
}

func (t *transcoder) skip(tag Tag, length uint32) error {
	at := t.pos
	n, err := t.r.Discard(int(length))
	t.pos += int64(n)
	if err != nil {
		return t.valueErr(tag, length, at, err)
	}
	return nil
}

// sequence transcodes a sequence's items. Whatever their lengths were, they
// are written with undefined lengths, so nothing is measured in advance.
func (t *transcoder) sequence(tag Tag, length uint32, in coding) error {
	t.writeHeader(tag, SQ, UndefinedLength)
	end := int64(endDelimited)
	if length != UndefinedLength {
		end = t.pos + int64(length)
	}
	t.depth++
	defer func() { t.depth-- }()
	for {
		if end >= 0 && t.pos >= end {
			if t.pos > end {
				return fmt.Errorf("%w: sequence %s overruns its declared length", ErrMalformed, tag)
			}
			break
		}
		at := t.pos
		b, err := t.read(8, "item of sequence "+tag.String())
		if err != nil {
			return err
		}
		itemTag := NewTag(in.bo.Uint16(b), in.bo.Uint16(b[2:]))
		itemLength := in.bo.Uint32(b[4:])
		if itemTag == SequenceDelimitationItem && end == endDelimited {
			break
		}
		if itemTag != Item {
			return fmt.Errorf("%w: %s found where an item of sequence %s was expected, at offset %d", ErrMalformed, itemTag, tag, at)
		}
		itemEnd := int64(endDelimited)
		if itemLength != UndefinedLength {
			itemEnd = t.pos + int64(itemLength)
		}
		t.writeItemHeader(Item, UndefinedLength)
		if err := t.dataset(newImageState(), in, itemEnd); err != nil {
			return err
		}
		t.writeItemHeader(ItemDelimitationItem, 0)
	}
	t.writeItemHeader(SequenceDelimitationItem, 0)
	// An empty write returns the writer's sticky error, if any.
	if _, err := t.w.Write(nil); err != nil {
		return writeErr(err)
	}
	return nil
}
