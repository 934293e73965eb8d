package dcm

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// UndefinedLength is the length value of sequences, items and encapsulated
// pixel data whose end is marked by a delimiter instead.
const UndefinedLength = 0xFFFFFFFF

// maxDepth bounds sequence nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// maxFragments bounds the fragment list of encapsulated pixel data, whose
// memory would otherwise grow with a hostile file's count of 8-byte items.
// Real multi-frame images have one or a few fragments per frame.
const maxFragments = 1 << 18

// Element is one data element as it was found in the stream.
type Element struct {
	Tag    Tag
	VR     VR
	Length uint32 // as encoded, UndefinedLength for delimited values
	Offset int64  // of the value's first byte, in dataset coordinates (see File.Deflated)

	// Value holds the value bytes, still in the dataset's byte order and
	// character set. It is nil for skipped (bulk) values, sequences and
	// encapsulated pixel data.
	Value []byte

	Items []*Dataset // sequence items

	// Encapsulated pixel data: the Basic Offset Table and the fragments
	// after it, in stream order.
	Encapsulated     bool
	BasicOffsetTable []uint32
	Fragments        []Fragment
}

// Fragment is one item of encapsulated pixel data.
type Fragment struct {
	Offset int64  // of the fragment's first byte
	Length uint32 // of the fragment
	Head   []byte // up to the first 12 bytes, to recognise codestream starts
}

// Bulk reports whether the value was too large to keep and was skipped.
func (e *Element) Bulk() bool {
	return e.Value == nil && !e.Encapsulated && e.VR != SQ && e.Length != 0 && e.Length != UndefinedLength
}

// Dataset is a list of elements in stream order.
type Dataset struct {
	Elements  []*Element
	BigEndian bool
}

// Find returns the element with the given tag, or nil.
func (d *Dataset) Find(t Tag) *Element {
	if d == nil {
		return nil
	}
	for _, e := range d.Elements {
		if e.Tag == t {
			return e
		}
		if e.Tag > t {
			return nil
		}
	}
	return nil
}

// ByteOrder returns the byte order of the dataset's binary values.
func (d *Dataset) ByteOrder() binary.ByteOrder {
	if d.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// String returns the trimmed first value of a text element (no character
// set conversion), or "" when absent.
func (d *Dataset) String(t Tag) string {
	e := d.Find(t)
	if e == nil || e.Value == nil {
		return ""
	}
	v := e.Value
	if i := bytes.IndexByte(v, '\\'); i >= 0 && !e.VR.IsSingleValuedText() {
		v = v[:i]
	}
	return string(bytes.Trim(v, " \x00"))
}

// Int returns the first value of a numeric (US, SS, UL, SL, IS) element.
func (d *Dataset) Int(t Tag) (int, bool) {
	e := d.Find(t)
	if e == nil || e.Value == nil {
		return 0, false
	}
	bo := d.ByteOrder()
	switch e.VR {
	case US:
		if len(e.Value) >= 2 {
			return int(bo.Uint16(e.Value)), true
		}
	case SS:
		if len(e.Value) >= 2 {
			return int(int16(bo.Uint16(e.Value))), true
		}
	case UL:
		if len(e.Value) >= 4 {
			return int(bo.Uint32(e.Value)), true
		}
	case SL:
		if len(e.Value) >= 4 {
			return int(int32(bo.Uint32(e.Value))), true
		}
	case IS:
		var n int
		if _, err := fmt.Sscan(d.String(t), &n); err == nil {
			return n, true
		}
	}
	return 0, false
}

// File is a parsed DICOM Part 10 stream.
type File struct {
	Meta           *Dataset
	DatasetOffset  int64 // offset of the first dataset byte in the stream
	TransferSyntax TransferSyntax
	// Deflated reports that the dataset was deflate-compressed: element
	// offsets then count inflated bytes after DatasetOffset, and reading a
	// value means inflating from DatasetOffset.
	Deflated bool
	Dataset  *Dataset
	Size     int64 // bytes read from the stream
}

// ParseOptions bound what the parser keeps in memory.
type ParseOptions struct {
	// MaxInlineBinary: binary values (OB, OW, UN, …) longer than this are
	// skipped and left in the stream. Default 1024.
	MaxInlineBinary int
	// MaxInlineValue: any other value longer than this is skipped. Default 4 MiB.
	MaxInlineValue int
	// StopBefore, when set, ends parsing at the first top-level element
	// whose tag is at least this one, leaving the rest of the stream
	// unread: StopBefore: PixelData reads an image's header and not its
	// pixels. File.Size is then where parsing stopped.
	StopBefore Tag
}

func (o *ParseOptions) defaults() {
	if o.MaxInlineBinary <= 0 {
		o.MaxInlineBinary = 1024
	}
	if o.MaxInlineValue <= 0 {
		o.MaxInlineValue = 4 << 20
	}
}

// Errors a caller may want to tell apart. Each returned error wraps one of
// these with the details (tag, offset, lengths).
var (
	ErrNotDICOM  = errors.New("not a DICOM Part 10 stream")
	ErrTruncated = errors.New("truncated DICOM stream")
	ErrMalformed = errors.New("malformed DICOM stream")
)

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// ParsePart10 reads a whole Part 10 stream: preamble, "DICM", the file meta
// information and the dataset, to the end of r. Every byte of r is consumed,
// so a caller may tee r into storage. Large values are skipped, not kept.
func ParsePart10(r io.Reader, opts ParseOptions) (*File, error) {
	opts.defaults()
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	p := &parser{r: br, opts: opts}

	var pre [132]byte
	n, err := io.ReadFull(br, pre[:])
	p.pos += int64(n)
	if err != nil || string(pre[128:]) != "DICM" {
		return nil, fmt.Errorf("%w: no \"DICM\" prefix after the 128-byte preamble", ErrNotDICOM)
	}
	f := &File{}
	meta, err := p.parseMeta()
	if err != nil {
		return nil, err
	}
	f.Meta = meta
	tsUID := meta.String(TransferSyntaxUID)
	if tsUID == "" {
		return nil, fmt.Errorf("%w: file meta information has no Transfer Syntax UID (0002,0010)", ErrMalformed)
	}
	f.TransferSyntax, _ = LookupTransferSyntax(tsUID)
	f.DatasetOffset = p.pos
	ds, err := p.parseBody(f.TransferSyntax)
	f.Deflated = f.TransferSyntax.Deflated
	f.Size = p.consumed()
	if err != nil {
		return nil, err
	}
	f.Dataset = ds
	return f, nil
}

// ParseDataset reads a bare dataset encoded in ts from r, to its end, as
// DIMSE delivers it. Offsets count from the first byte of r plus base;
// for a deflated ts they count inflated bytes from 0, as in File.
func ParseDataset(r io.Reader, ts TransferSyntax, base int64, opts ParseOptions) (*Dataset, int64, error) {
	opts.defaults()
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	p := &parser{r: br, opts: opts, pos: base}
	ds, err := p.parseBody(ts)
	return ds, p.consumed() - base, err
}

type parser struct {
	r    *bufio.Reader
	pos  int64 // position in the (possibly inflated) dataset stream
	opts ParseOptions

	bo       binary.ByteOrder
	implicit bool

	// For deflated datasets: the raw stream position when inflation began,
	// and a counter of raw bytes consumed.
	raw      *countingReader
	rawStart int64
	scratch  [12]byte
	stopped  bool // ParseOptions.StopBefore ended the dataset

	top *Dataset // the dataset being parsed, for Pixel Representation
}

// pixelValueTags are attributes holding pixel values, which the data
// dictionary (PS3.6) gives as "US or SS": which one follows Pixel
// Representation (0028,0103). Explicit VR streams say it; implicit VR
// ones leave it to the reader, and DictionaryVR's first choice, US, turns
// negative values of signed images into large positive ones.
var pixelValueTags = map[Tag]bool{
	0x00280104: true, // Smallest Valid Pixel Value (retired)
	0x00280105: true, // Largest Valid Pixel Value (retired)
	0x00280106: true, // Smallest Image Pixel Value
	0x00280107: true, // Largest Image Pixel Value
	0x00280108: true, // Smallest Pixel Value in Series
	0x00280109: true, // Largest Pixel Value in Series
	0x00280110: true, // Smallest Image Pixel Value in Plane (retired)
	0x00280111: true, // Largest Image Pixel Value in Plane (retired)
	0x00280120: true, // Pixel Padding Value
	0x00280121: true, // Pixel Padding Range Limit
	0x00409211: true, // Real World Value Last Value Mapped
	0x00409216: true, // Real World Value First Value Mapped
	0x00603004: true, // Histogram First Bin Value
	0x00603006: true, // Histogram Last Bin Value
}

// signedPixels reports whether Pixel Representation is 1 (two's complement)
// in ds or, for a sequence item that has none, in the top-level dataset.
// Tags are ascending, so (0028,0103) is already read when a pixel value
// attribute of the same dataset arrives.
func (p *parser) signedPixels(ds *Dataset) bool {
	for _, d := range []*Dataset{ds, p.top} {
		if n, ok := d.Int(PixelRepresentation); ok {
			return n == 1
		}
	}
	return false
}

// consumed returns how many bytes of the original stream were read.
func (p *parser) consumed() int64 {
	if p.raw != nil {
		return p.rawStart + p.raw.n
	}
	return p.pos
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (p *parser) parseMeta() (*Dataset, error) {
	p.bo, p.implicit = binary.LittleEndian, false
	// The meta group's UIDs are needed whatever limits the caller chose for
	// the dataset.
	saved := p.opts
	p.opts.MaxInlineBinary = max(p.opts.MaxInlineBinary, 1024)
	p.opts.MaxInlineValue = max(p.opts.MaxInlineValue, 1024)
	defer func() { p.opts = saved }()
	ds := &Dataset{}
	var end int64 = -1
	for {
		if end >= 0 && p.pos >= end {
			break
		}
		head, err := p.r.Peek(2)
		if err != nil {
			if err != io.EOF {
				return nil, fmt.Errorf("%w: reading file meta information: %v", ErrTruncated, err)
			}
			if end >= 0 && p.pos < end {
				// The group length promised more: the stream was cut
				// inside the file meta information.
				return nil, fmt.Errorf("%w: file meta information ends at offset %d, its group length says %d", ErrTruncated, p.pos, end)
			}
			break
		}
		if binary.LittleEndian.Uint16(head) != 0x0002 {
			break
		}
		e, err := p.readElement(0)
		if err != nil {
			return nil, fmt.Errorf("file meta information: %w", err)
		}
		if e.Tag == FileMetaInformationGroupLength && len(e.Value) == 4 {
			end = p.pos + int64(binary.LittleEndian.Uint32(e.Value))
		}
		ds.Elements = append(ds.Elements, e)
	}
	if len(ds.Elements) == 0 {
		return nil, fmt.Errorf("%w: no file meta information after \"DICM\"", ErrNotDICOM)
	}
	return ds, nil
}

func (p *parser) parseBody(ts TransferSyntax) (*Dataset, error) {
	p.implicit = ts.ImplicitVR
	p.bo = binary.LittleEndian
	if ts.BigEndian {
		p.bo = binary.BigEndian
	}
	if ts.Deflated {
		// The rest of the stream is raw deflate; positions now count
		// inflated bytes. The bufio reader may have read ahead, so inflate
		// from it rather than from the underlying stream.
		p.raw = &countingReader{r: p.r}
		p.rawStart = p.pos
		fr := flate.NewReader(p.raw)
		defer fr.Close()
		p.r = bufio.NewReaderSize(fr, 64<<10)
		p.pos = 0
	}
	ds := &Dataset{BigEndian: ts.BigEndian}
	p.top = ds
	if err := p.parseItems(ds, -1, 0); err != nil {
		return nil, err
	}
	if p.raw != nil && !p.stopped {
		// Drain anything after the deflate stream's end so a tee sees it all.
		if _, err := io.Copy(io.Discard, p.raw); err != nil {
			return nil, fmt.Errorf("%w: after deflated dataset: %v", ErrMalformed, err)
		}
	}
	return ds, nil
}

// parseItems reads elements into ds until end (an absolute position, -1 for
// the end of the stream, or -2 for "until an item delimiter").
func (p *parser) parseItems(ds *Dataset, end int64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: sequences nested deeper than %d", ErrMalformed, maxDepth)
	}
	var last Tag
	for {
		if end >= 0 && p.pos >= end {
			if p.pos > end {
				return fmt.Errorf("%w: item overruns its declared length at offset %d", ErrMalformed, end)
			}
			return nil
		}
		if end == -1 {
			if _, err := p.r.Peek(1); err == io.EOF {
				return nil
			}
			if p.opts.StopBefore != 0 {
				if b, err := p.r.Peek(4); err == nil && NewTag(p.bo.Uint16(b), p.bo.Uint16(b[2:])) >= p.opts.StopBefore {
					p.stopped = true
					return nil
				}
			}
		}
		e, err := p.readElement(depth)
		if err != nil {
			return err
		}
		if e.Tag == ItemDelimitationItem {
			if end == -2 {
				return nil
			}
			return fmt.Errorf("%w: unexpected item delimiter at offset %d", ErrMalformed, e.Offset-8)
		}
		if e.Tag == SequenceDelimitationItem && end == -1 {
			// Some writers leave a stray delimiter at the top level; skip it.
			continue
		}
		if e.Tag.Group() == 0xFFFE {
			return fmt.Errorf("%w: unexpected %s at offset %d", ErrMalformed, e.Tag, e.Offset-8)
		}
		if p.implicit && e.VR == US && pixelValueTags[e.Tag] && p.signedPixels(ds) {
			e.VR = SS
		}
		if e.Tag < last {
			// Out-of-order elements: keep them, but keep Find correct.
			ds.Elements = insertSorted(ds.Elements, e)
			continue
		}
		last = e.Tag
		ds.Elements = append(ds.Elements, e)
	}
}

func insertSorted(els []*Element, e *Element) []*Element {
	i := len(els)
	for i > 0 && els[i-1].Tag > e.Tag {
		i--
	}
	els = append(els, nil)
	copy(els[i+1:], els[i:])
	els[i] = e
	return els
}

func (p *parser) read(n int) ([]byte, error) {
	b := p.scratch[:n]
	m, err := io.ReadFull(p.r, b)
	p.pos += int64(m)
	return b, err
}

func truncated(what string, at int64, err error) error {
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: %s at offset %d", ErrTruncated, what, at)
	case isCorruptDeflate(err):
		return fmt.Errorf("%w: %s at offset %d: %v", ErrMalformed, what, at, err)
	}
	return fmt.Errorf("reading %s at offset %d: %w", what, at, err)
}

// shortValue reports a value the stream did not hold in full: the stream
// ended (ErrTruncated), or the deflated dataset broke off (ErrMalformed).
func shortValue(what string, length uint32, at int64, n int, err error) error {
	if isCorruptDeflate(err) {
		return fmt.Errorf("%w: %s at offset %d: %v", ErrMalformed, what, at, err)
	}
	return fmt.Errorf("%w: %s declares %d bytes at offset %d, only %d remain", ErrTruncated, what, length, at, n)
}

func isCorruptDeflate(err error) bool {
	var ce flate.CorruptInputError
	return errors.As(err, &ce)
}

// readElement reads one element header and its value (or skips the value).
func (p *parser) readElement(depth int) (*Element, error) {
	start := p.pos
	b, err := p.read(4)
	if err != nil {
		return nil, truncated("element tag", start, err)
	}
	tag := NewTag(p.bo.Uint16(b[0:]), p.bo.Uint16(b[2:]))
	e := &Element{Tag: tag}
	if tag.Group() == 0xFFFE {
		// Items and delimiters have no VR in any transfer syntax.
		b, err = p.read(4)
		if err != nil {
			return nil, truncated("item length", start, err)
		}
		e.Length = p.bo.Uint32(b)
		e.Offset = p.pos
		return e, nil
	}
	if p.implicit {
		b, err = p.read(4)
		if err != nil {
			return nil, truncated("length of "+tag.String(), start, err)
		}
		e.Length = p.bo.Uint32(b)
		e.VR = DictionaryVR(tag)
		if e.Length == UndefinedLength && tag != PixelData {
			e.VR = SQ
		}
	} else {
		b, err = p.read(2)
		if err != nil {
			return nil, truncated("VR of "+tag.String(), start, err)
		}
		e.VR = VR(uint16(b[0])<<8 | uint16(b[1]))
		known := e.VR.Known()
		if known && !e.VR.HasLongLength() {
			b, err = p.read(2)
			if err != nil {
				return nil, truncated("length of "+tag.String(), start, err)
			}
			e.Length = uint32(p.bo.Uint16(b))
		} else {
			// Unknown VRs use the long form, as PS3.5 7.1.2 requires of any
			// VR defined later.
			b, err = p.read(6)
			if err != nil {
				return nil, truncated("length of "+tag.String(), start, err)
			}
			e.Length = p.bo.Uint32(b[2:])
			if !known {
				e.VR = UN
			}
		}
	}
	e.Offset = p.pos

	switch {
	case e.Length == UndefinedLength && tag == PixelData:
		return e, p.readFragments(e)
	case e.VR == SQ:
		return e, p.readSequence(e, depth, false)
	case e.VR == UN && e.Length == UndefinedLength:
		// An undefined-length UN is a sequence encoded in implicit VR little
		// endian (PS3.5 6.2.2 note).
		e.VR = SQ
		return e, p.readSequence(e, depth, true)
	case e.Length == UndefinedLength:
		return nil, fmt.Errorf("%w: %s (%s) has undefined length at offset %d", ErrMalformed, tag, e.VR, start)
	}

	limit := p.opts.MaxInlineValue
	if e.VR.IsBinary() {
		limit = p.opts.MaxInlineBinary
	}
	if int64(e.Length) > int64(limit) {
		n, err := p.r.Discard(int(e.Length))
		p.pos += int64(n)
		if err != nil {
			return nil, shortValue(tag.String(), e.Length, e.Offset, n, err)
		}
		return e, nil
	}
	e.Value = make([]byte, e.Length)
	n, err := io.ReadFull(p.r, e.Value)
	p.pos += int64(n)
	if err != nil {
		return nil, shortValue(tag.String(), e.Length, e.Offset, n, err)
	}
	return e, nil
}

func (p *parser) readSequence(e *Element, depth int, implicitLE bool) error {
	saveBO, saveImplicit := p.bo, p.implicit
	defer func() { p.bo, p.implicit = saveBO, saveImplicit }()
	if implicitLE {
		p.bo, p.implicit = binary.LittleEndian, true
	}
	end := int64(-2)
	if e.Length != UndefinedLength {
		end = p.pos + int64(e.Length)
	}
	for {
		if end >= 0 && p.pos >= end {
			if p.pos > end {
				return fmt.Errorf("%w: sequence %s overruns its declared length", ErrMalformed, e.Tag)
			}
			return nil
		}
		at := p.pos
		b, err := p.read(8)
		if err != nil {
			return truncated("item of sequence "+e.Tag.String(), at, err)
		}
		tag := NewTag(p.bo.Uint16(b[0:]), p.bo.Uint16(b[2:]))
		length := p.bo.Uint32(b[4:])
		switch tag {
		case SequenceDelimitationItem:
			if end == -2 {
				return nil
			}
			return fmt.Errorf("%w: sequence delimiter inside defined-length sequence %s at offset %d", ErrMalformed, e.Tag, at)
		case Item:
		default:
			return fmt.Errorf("%w: %s found where an item of sequence %s was expected, at offset %d", ErrMalformed, tag, e.Tag, at)
		}
		item := &Dataset{BigEndian: p.bo == binary.BigEndian}
		itemEnd := int64(-2)
		if length != UndefinedLength {
			itemEnd = p.pos + int64(length)
		}
		if err := p.parseItems(item, itemEnd, depth+1); err != nil {
			return err
		}
		e.Items = append(e.Items, item)
	}
}

func (p *parser) readFragments(e *Element) error {
	e.Encapsulated = true
	first := true
	for {
		at := p.pos
		b, err := p.read(8)
		if err != nil {
			return truncated("pixel data fragment", at, err)
		}
		tag := NewTag(p.bo.Uint16(b[0:]), p.bo.Uint16(b[2:]))
		length := p.bo.Uint32(b[4:])
		if tag == SequenceDelimitationItem {
			return nil
		}
		if tag != Item {
			return fmt.Errorf("%w: %s found among pixel data fragments at offset %d", ErrMalformed, tag, at)
		}
		if length == UndefinedLength {
			return fmt.Errorf("%w: pixel data fragment of undefined length at offset %d", ErrMalformed, at)
		}
		if first {
			first = false
			if length%4 != 0 || length > 64<<20 {
				return fmt.Errorf("%w: basic offset table of %d bytes at offset %d", ErrMalformed, length, at)
			}
			// Entry by entry: the length is only a claim, and memory
			// must grow with the bytes that really arrive.
			for range length / 4 {
				b, err := p.read(4)
				if err != nil {
					return truncated("basic offset table", at, err)
				}
				e.BasicOffsetTable = append(e.BasicOffsetTable, p.bo.Uint32(b))
			}
			continue
		}
		frag := Fragment{Offset: p.pos, Length: length}
		headLen := min(int(length), 12)
		if head, err := p.r.Peek(headLen); err == nil {
			frag.Head = append([]byte(nil), head...)
		}
		n, err := p.r.Discard(int(length))
		p.pos += int64(n)
		if err != nil {
			return shortValue("pixel data fragment", length, frag.Offset, n, err)
		}
		if len(e.Fragments) == maxFragments {
			return fmt.Errorf("%w: more than %d pixel data fragments", ErrMalformed, maxFragments)
		}
		e.Fragments = append(e.Fragments, frag)
	}
}
