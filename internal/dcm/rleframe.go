package dcm

import (
	"encoding/binary"
	"fmt"
)

// DecodeRLEFrame decodes one frame of RLE Lossless pixel data (PS3.5
// Annex G) held whole in memory: frame is the frame's fragments
// concatenated, as a FrameTable locates them. It fills dst with native
// little endian pixel data, samples interleaved (Planar Configuration 0),
// so dst must hold a whole number of pixels of samples×bytesPerSample
// bytes. Errors about the frame's content wrap ErrMalformed.
//
// The transcoder decodes RLE while it streams; this is for callers that
// need one frame's pixels, such as rendering.
func DecodeRLEFrame(dst, frame []byte, samples, bytesPerSample int) error {
	nseg := samples * bytesPerSample
	if samples < 1 || bytesPerSample < 1 || nseg > rleMaxSegments || len(dst)%nseg != 0 {
		return fmt.Errorf("dcm: DecodeRLEFrame of %d samples of %d bytes into %d bytes", samples, bytesPerSample, len(dst))
	}
	pixels := len(dst) / nseg
	if len(frame) < 64 {
		return fmt.Errorf("%w: RLE frame has %d bytes, less than its header", ErrMalformed, len(frame))
	}
	if n := binary.LittleEndian.Uint32(frame); n != uint32(nseg) {
		return fmt.Errorf("%w: RLE frame has %d segments, %d samples of %d bytes need %d", ErrMalformed, n, samples, bytesPerSample, nseg)
	}
	var segs [rleMaxSegments]rleSegment
	for i := range nseg {
		start := binary.LittleEndian.Uint32(frame[4+4*i:])
		end := uint32(len(frame))
		if i+1 < nseg {
			end = binary.LittleEndian.Uint32(frame[8+4*i:])
		}
		if start < 64 || start > end || end > uint32(len(frame)) {
			return fmt.Errorf("%w: RLE frame: segment %d at bytes %d to %d of %d", ErrMalformed, i+1, start, end, len(frame))
		}
		segs[i].src = frame[start:end]
	}
	if nseg == 1 {
		if !segs[0].decode(dst) {
			return fmt.Errorf("%w: RLE frame: segment 1 decodes to fewer than %d bytes", ErrMalformed, pixels)
		}
		return nil
	}
	// Each segment holds one byte of every pixel; decode them side by side
	// a chunk of pixels at a time, so the scratch plane stays small
	// whatever the frame's size.
	var plane [4096]byte
	for done := 0; done < pixels; {
		n := min(len(plane), pixels-done)
		out := dst[done*nseg : (done+n)*nseg]
		for s := range nseg {
			p := plane[:n]
			if !segs[s].decode(p) {
				return fmt.Errorf("%w: RLE frame: segment %d decodes to fewer than %d bytes", ErrMalformed, s+1, pixels)
			}
			// Segment s is byte s%bytesPerSample of sample s/bytesPerSample,
			// counted from the most significant (PS3.5 G.2); little endian
			// puts it at bytesPerSample-1-s%bytesPerSample.
			at := s/bytesPerSample*bytesPerSample + bytesPerSample - 1 - s%bytesPerSample
			for i, v := range p {
				out[i*nseg+at] = v
			}
		}
		done += n
	}
	return nil
}
