package dcm

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// rleMaxSegments is the number of segment offsets an RLE header has room
// for (PS3.5 G.5).
const rleMaxSegments = 15

// rlePixelData decodes encapsulated RLE Lossless pixel data (PS3.5 Annex G)
// into native pixel data, one frame at a time. Its item tag, length and
// header are read; what follows is the Basic Offset Table item.
func (t *transcoder) rlePixelData(st *imageState, in coding) error {
	bytesPerSample := st.bitsAllocated / 8
	switch {
	case st.rows <= 0 || st.columns <= 0 || st.samples <= 0 || st.bitsAllocated <= 0:
		return fmt.Errorf("%w: RLE pixel data without Rows, Columns, Samples per Pixel and Bits Allocated before it", ErrMalformed)
	case st.bitsAllocated%8 != 0 || st.samples*bytesPerSample > rleMaxSegments:
		return fmt.Errorf("%w: RLE pixel data of %d samples of %d bits allocated", ErrCannotTranscode, st.samples, st.bitsAllocated)
	}
	frames := max(st.frames, 1)
	segments := st.samples * bytesPerSample
	pixels := int64(st.rows) * int64(st.columns)
	frameSize := pixels * int64(segments)
	if int64(frames) > 0xFFFFFFFE/frameSize {
		return fmt.Errorf("%w: %d frames of %d bytes do not fit native pixel data", ErrCannotTranscode, frames, frameSize)
	}
	total := frameSize * int64(frames)
	vr := OW
	if st.bitsAllocated == 8 {
		vr = OB
	}
	unit := 0
	if t.out.bo == binary.BigEndian {
		unit = swapUnit(vr)
	}
	t.writeHeader(PixelData, vr, uint32(total+total%2))

	bot, err := t.basicOffsetTable(in, frames)
	if err != nil {
		return err
	}
	// The table counts from the first byte of the first fragment's item.
	base := t.pos
	// A compressed frame needs at most a header, a padding byte per segment
	// and two bytes per decoded byte (literal runs of one); anything longer
	// is hostile and must not grow memory.
	maxCompressed := 2*frameSize + 64 + rleMaxSegments

	// The header of the next fragment item, read ahead to see whether it
	// belongs to the frame being collected.
	var (
		fragAt    int64 // relative to base
		fragLen   uint32
		have, end bool
	)
	next := func() error {
		at := t.pos
		b, err := t.read(8, "pixel data fragment")
		if err != nil {
			return err
		}
		tag := NewTag(in.bo.Uint16(b), in.bo.Uint16(b[2:]))
		length := in.bo.Uint32(b[4:])
		switch {
		case tag == SequenceDelimitationItem:
			end = true
		case tag != Item:
			return fmt.Errorf("%w: %s found among pixel data fragments at offset %d", ErrMalformed, tag, at)
		case length == UndefinedLength:
			return fmt.Errorf("%w: pixel data fragment of undefined length at offset %d", ErrMalformed, at)
		default:
			have, fragAt, fragLen = true, at-base, length
		}
		return nil
	}

	for k := range frames {
		if !have && !end {
			if err := next(); err != nil {
				return err
			}
		}
		if end {
			return fmt.Errorf("%w: RLE pixel data has %d frames but only %d fragments", ErrMalformed, frames, k)
		}
		t.comp = t.comp[:0]
		for {
			if int64(len(t.comp))+int64(fragLen) > maxCompressed {
				return fmt.Errorf("%w: RLE frame %d is over %d bytes compressed, more than %d bytes of pixels need", ErrMalformed, k+1, maxCompressed, frameSize)
			}
			if err := t.readFragment(fragLen); err != nil {
				return err
			}
			have = false
			if err := next(); err != nil {
				return err
			}
			if end {
				break
			}
			// PS3.5 A.4.2 puts each RLE frame in one fragment. Where a
			// writer split frames anyway, the offset table says where the
			// next begins; a single frame takes every fragment.
			if bot != nil && k+1 < frames && fragAt >= int64(bot[k+1]) || bot == nil && frames > 1 {
				break
			}
		}
		if err := t.decodeRLEFrame(k, pixels, st.samples, bytesPerSample, unit); err != nil {
			return err
		}
	}
	if !end {
		return fmt.Errorf("%w: RLE pixel data has more fragments than its %d frames", ErrMalformed, frames)
	}
	if total%2 == 1 {
		t.w.Write([]byte{0})
	}
	if _, err := t.w.Write(nil); err != nil {
		return writeErr(err)
	}
	return nil
}

// basicOffsetTable reads the first item of encapsulated pixel data and
// returns its offsets if they can group fragments into frames: one per
// frame, starting at 0, ascending. Otherwise (typically empty) it is nil.
func (t *transcoder) basicOffsetTable(in coding, frames int) ([]uint32, error) {
	at := t.pos
	b, err := t.read(8, "basic offset table")
	if err != nil {
		return nil, err
	}
	tag := NewTag(in.bo.Uint16(b), in.bo.Uint16(b[2:]))
	length := in.bo.Uint32(b[4:])
	if tag != Item || length == UndefinedLength || length%4 != 0 {
		return nil, fmt.Errorf("%w: %s of %d bytes where the basic offset table should be, at offset %d", ErrMalformed, tag, length, at)
	}
	if frames < 2 || length/4 != uint32(frames) {
		return nil, t.skip(Item, length)
	}
	bot := make([]uint32, 0, frames)
	for range frames {
		b, err := t.read(4, "basic offset table")
		if err != nil {
			return nil, err
		}
		bot = append(bot, in.bo.Uint32(b))
	}
	if bot[0] != 0 || !slices.IsSorted(bot) {
		return nil, nil
	}
	return bot, nil
}

// readFragment appends a fragment's n bytes to t.comp, growing it as bytes
// arrive rather than by the length the stream claims.
func (t *transcoder) readFragment(n uint32) error {
	at := t.pos
	for rest := int(n); rest > 0; {
		chunk := min(rest, 1<<20)
		t.comp = slices.Grow(t.comp, chunk)
		m, err := io.ReadFull(t.r, t.comp[len(t.comp):len(t.comp)+chunk])
		t.comp = t.comp[:len(t.comp)+m]
		t.pos += int64(m)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: pixel data fragment declares %d bytes at offset %d, only %d remain", ErrTruncated, n, at, t.pos-at)
			}
			return t.readErr("pixel data fragment", at, err)
		}
		rest -= m
	}
	return nil
}

// decodeRLEFrame decodes the compressed frame in t.comp (frame k, 0-based)
// and writes it as native little endian pixels, or big endian by swapping
// unit-byte groups. An RLE frame is a header of 16 little endian 32-bit
// numbers (the segment count, then the offsets of up to 15 segments) and
// the segments. Segment s holds one byte of every pixel: sample s/bps,
// most significant byte first (PS3.5 G.2). The segments are decoded side
// by side, a chunk of pixels at a time, and interleaved into the output.
func (t *transcoder) decodeRLEFrame(k int, pixels int64, samples, bps, unit int) error {
	comp := t.comp
	nseg := samples * bps
	if len(comp) < 64 {
		return fmt.Errorf("%w: RLE frame %d has %d bytes, less than its header", ErrMalformed, k+1, len(comp))
	}
	if n := binary.LittleEndian.Uint32(comp); n != uint32(nseg) {
		return fmt.Errorf("%w: RLE frame %d has %d segments, %d samples of %d bytes need %d", ErrMalformed, k+1, n, samples, bps, nseg)
	}
	var segs [rleMaxSegments]rleSegment
	for i := range nseg {
		start := binary.LittleEndian.Uint32(comp[4+4*i:])
		end := uint32(len(comp))
		if i+1 < nseg {
			end = binary.LittleEndian.Uint32(comp[8+4*i:])
		}
		if start < 64 || start > end || end > uint32(len(comp)) {
			return fmt.Errorf("%w: RLE frame %d: segment %d at bytes %d to %d of %d", ErrMalformed, k+1, i+1, start, end, len(comp))
		}
		segs[i].src = comp[start:end]
	}
	if t.plane == nil {
		t.plane = make([]byte, len(t.buf))
	}
	// An even count of pixels per chunk keeps 2-byte units whole even
	// for odd byte counts per pixel.
	step := int64(len(t.buf)/nseg) &^ 1
	for done := int64(0); done < pixels; {
		n := min(step, pixels-done)
		out := t.buf[:n*int64(nseg)]
		if nseg == 1 {
			if !segs[0].decode(out) {
				return fmt.Errorf("%w: RLE frame %d: segment 1 decodes to fewer than %d bytes", ErrMalformed, k+1, pixels)
			}
		} else {
			for s := range nseg {
				plane := t.plane[int64(s)*n : int64(s+1)*n]
				if !segs[s].decode(plane) {
					return fmt.Errorf("%w: RLE frame %d: segment %d decodes to fewer than %d bytes", ErrMalformed, k+1, s+1, pixels)
				}
				// Segment s is byte s%bps of sample s/bps counted from the
				// most significant; little endian puts that byte at
				// bps-1-s%bps within the sample.
				at := s/bps*bps + bps - 1 - s%bps
				for p, v := range plane {
					out[p*nseg+at] = v
				}
			}
		}
		swapBytes(out, unit)
		if _, err := t.w.Write(out); err != nil {
			return writeErr(err)
		}
		done += n
	}
	return nil
}

// rleSegment decodes one RLE segment (PS3.5 G.3.2, a PackBits scheme)
// incrementally. Bytes it holds beyond the frame's pixels are padding.
type rleSegment struct {
	src     []byte
	literal int  // bytes of a literal run still to copy
	repeat  int  // copies of b still to write
	b       byte // the byte being repeated
}

// decode fills dst, reporting false if the segment ends first.
func (s *rleSegment) decode(dst []byte) bool {
	for i := 0; i < len(dst); {
		switch {
		case s.literal > 0:
			n := min(s.literal, len(dst)-i, len(s.src))
			if n == 0 {
				return false
			}
			copy(dst[i:], s.src[:n])
			s.src = s.src[n:]
			s.literal -= n
			i += n
		case s.repeat > 0:
			n := min(s.repeat, len(dst)-i)
			for j := range n {
				dst[i+j] = s.b
			}
			s.repeat -= n
			i += n
		case len(s.src) == 0:
			return false
		default:
			c := int8(s.src[0])
			s.src = s.src[1:]
			switch {
			case c >= 0:
				// The next c+1 bytes are literal.
				s.literal = int(c) + 1
			case c == -128:
				// No operation.
			case len(s.src) == 0:
				return false
			default:
				// The next byte, 1-c times.
				s.repeat = 1 - int(c)
				s.b = s.src[0]
				s.src = s.src[1:]
			}
		}
	}
	return true
}
