package dicomweb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
)

// A reader of multipart bodies (RFC 2046 5.1.1) for STOW-RS, which sends
// its instances as the parts of a multipart/related body (PS3.18 10.5).
//
// The grammar, in short:
//
//	body      = [preamble CRLF] "--" boundary padding CRLF part
//	            *(CRLF "--" boundary padding CRLF part)
//	            CRLF "--" boundary "--" padding [CRLF epilogue]
//	part      = header-lines CRLF data
//	padding   = *(SP / HTAB)
//
// The whole body goes through one buffer. Part data is found by looking
// for "--" boundary with bytes.Index over everything buffered, then
// checking the line break before it and the rest of its line: '-' is rare
// in pixel data, where CR, the first byte of the full delimiter, is not.
// Bytes at the end of the buffer that could still turn out to be the start
// of a delimiter stay in it, unreturned, until more of the body arrives.
//
// Line breaks: CRLF as RFC 2046 has it, unless the first boundary line
// ends in a bare LF, in which case the body is taken to use bare LF
// throughout (LF "--" boundary ends a part; a CR before it is data). In a
// CRLF body, a bare LF before "--" boundary is data.
//
// A "--" boundary that does not start a line of its own, or is followed by
// something other than "--" or padding and the line break, is data. After
// the close delimiter ("--" boundary "--") nothing more is read.

// maxPartHeader bounds the header lines of one part, blank line included.
const maxPartHeader = 64 << 10

// partsReader reads the parts of a multipart body, one after another.
type partsReader struct {
	src    io.Reader
	srcErr error // the error src returned, io.EOF at the end of the body
	buf    []byte
	r, w   int // buf[r:w] is read from src and not consumed yet

	dash []byte // "--" boundary
	// delim is a delimiter up to the boundary: the line break, then dash.
	// Before the first boundary line, the line break is LF (a preamble
	// line may end in either) and eol is nil; afterwards eol is the line
	// break the body uses, CRLF or LF.
	delim []byte
	eol   []byte

	err error // io.EOF after the close delimiter, or why the body is unreadable
	cur *rawPart

	// Scanning state of the current part (or of the preamble).
	scanned bool // avail and found are up to date with buf[r:w]
	atStart bool // nothing of the current part's data has been consumed
	avail   int  // buf[r:r+avail] is data
	found   bool // a boundary line follows those bytes
	lineLen int  // its length, not counting an epilogue
	final   bool // it is the close delimiter
	lineLF  bool // it ends in a bare LF (for the first boundary line)

	hdr []byte        // the header lines of the part being started
	hr  bytes.Reader  // reads hdr for textproto
	br  *bufio.Reader // over hr
}

// rawPart is one part of the body: its header, and its data as read, no
// transfer encoding undone. It reads until the next boundary line.
type rawPart struct {
	Header textproto.MIMEHeader
	mr     *partsReader
}

var (
	errCutBeforeBoundary = fmt.Errorf("multipart body ends before its first boundary line: %w", io.ErrUnexpectedEOF)
	errCutInHeader       = fmt.Errorf("multipart body ends inside a part's header: %w", io.ErrUnexpectedEOF)
	errCutInPart         = fmt.Errorf("multipart body ends inside a part, with no boundary line after it: %w", io.ErrUnexpectedEOF)
	errHeaderTooLarge    = fmt.Errorf("part header longer than %d bytes", maxPartHeader)
	errPaddingTooLong    = errors.New("boundary line padded with more blanks than the read buffer holds")
	errNoProgress        = errors.New("multipart body: the reader returns no data and no error")
)

// newPartsReader reads the multipart body r, whose parts are separated by
// boundary, through a buffer of size bytes (more if the boundary needs it).
func newPartsReader(r io.Reader, boundary string, size int) *partsReader {
	dash := []byte("--" + boundary)
	// Room for a whole boundary line with some padding, and as much again
	// of data, so that a scan never finds the buffer full of undecided bytes.
	if least := 2*len(dash) + 64; size < least {
		size = least
	}
	return &partsReader{
		src:     r,
		buf:     make([]byte, size),
		dash:    dash,
		delim:   append([]byte{'\n'}, dash...),
		atStart: true,
	}
}

// NextRawPart skips what is left of the current part (or the preamble) and
// returns the next part, its header read. After the close delimiter it
// returns io.EOF.
func (mr *partsReader) NextRawPart() (*rawPart, error) {
	if mr.err != nil {
		return nil, mr.err
	}
	mr.cur = nil
	for {
		d, err := mr.data()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errCutInPart) && mr.eol == nil {
				err = errCutBeforeBoundary
				mr.err = err
			}
			return nil, err
		}
		mr.consume(len(d))
	}
	final, lf := mr.final, mr.lineLF
	mr.r += mr.lineLen
	if final {
		mr.err = io.EOF
		return nil, io.EOF
	}
	if mr.eol == nil {
		mr.eol = []byte("\r\n")
		if lf {
			mr.eol = mr.eol[1:]
		}
		mr.delim = append(append([]byte(nil), mr.eol...), mr.dash...)
	}
	h, err := mr.readHeader()
	if err != nil {
		mr.err = err
		return nil, err
	}
	mr.atStart, mr.scanned, mr.found, mr.avail = true, false, false, 0
	mr.cur = &rawPart{Header: h, mr: mr}
	return mr.cur, nil
}

// readHeader reads header lines up to and including the blank line that
// ends them, and parses them.
func (mr *partsReader) readHeader() (textproto.MIMEHeader, error) {
	mr.hdr = mr.hdr[:0]
	line := 0 // where the current line starts in hdr
	for {
		win := mr.buf[mr.r:mr.w]
		i := bytes.IndexByte(win, '\n')
		n := i + 1
		if i < 0 {
			n = len(win)
		}
		if len(mr.hdr)+n > maxPartHeader {
			return nil, errHeaderTooLarge
		}
		mr.hdr = append(mr.hdr, win[:n]...)
		mr.r += n
		if i < 0 {
			if mr.srcErr != nil {
				return nil, mr.endError(errCutInHeader)
			}
			if err := mr.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if l := mr.hdr[line:]; len(l) == 1 || len(l) == 2 && l[0] == '\r' {
			break
		}
		line = len(mr.hdr)
	}
	mr.hr.Reset(mr.hdr)
	if mr.br == nil {
		mr.br = bufio.NewReader(&mr.hr)
	} else {
		mr.br.Reset(&mr.hr)
	}
	h, err := textproto.NewReader(mr.br).ReadMIMEHeader()
	if err != nil {
		// Not wrapped: whatever textproto says, this is no end of body.
		return nil, fmt.Errorf("malformed part header: %v", err)
	}
	return h, nil
}

// data returns the part data at the front of the buffer, reading more of
// the body if none is known yet, or io.EOF at the end of the part.
func (mr *partsReader) data() ([]byte, error) {
	for {
		if !mr.scanned {
			mr.scan()
		}
		if mr.avail > 0 {
			return mr.buf[mr.r : mr.r+mr.avail], nil
		}
		if mr.found {
			return nil, io.EOF
		}
		if mr.srcErr != nil {
			// scan held nothing back: the body ended inside the data.
			mr.err = mr.endError(errCutInPart)
			return nil, mr.err
		}
		if err := mr.fill(); err != nil {
			mr.err = err
			return nil, err
		}
	}
}

// endError is what to report when the body ends where it must not: cut
// for io.EOF, otherwise the reader's own error.
func (mr *partsReader) endError(cut error) error {
	if mr.srcErr == io.EOF {
		return cut
	}
	return mr.srcErr
}

// consume drops n bytes of data from the front of the buffer.
func (mr *partsReader) consume(n int) {
	if n > 0 {
		mr.r += n
		mr.avail -= n
		mr.atStart = false
	}
}

// fill moves what is unconsumed to the front of the buffer and reads more
// after it. It fails only when no byte can be added.
func (mr *partsReader) fill() error {
	if mr.r > 0 {
		mr.w = copy(mr.buf, mr.buf[mr.r:mr.w])
		mr.r = 0
	}
	if mr.w == len(mr.buf) {
		return errPaddingTooLong
	}
	mr.scanned = false
	for range 100 {
		n, err := mr.src.Read(mr.buf[mr.w:])
		mr.w += n
		if err != nil {
			mr.srcErr = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	return errNoProgress
}

// Outcomes of looking at what follows "--" boundary.
const (
	lineNot = iota
	lineYes
	lineUndecided // more bytes are needed to tell
)

// scan sets avail and found for buf[r:w].
func (mr *partsReader) scan() {
	mr.scanned = true
	win := mr.buf[mr.r:mr.w]
	eof := mr.srcErr != nil
	lb := len(mr.delim) - len(mr.dash)
	for from := 0; ; {
		i := bytes.Index(win[from:], mr.dash)
		if i < 0 {
			break
		}
		i += from
		from = i + 1
		start := -1
		switch {
		case i == 0 && mr.atStart:
			start = 0 // right after the header's blank line
		case i >= lb && bytes.Equal(win[i-lb:i], mr.delim[:lb]):
			start = i - lb
		}
		if start < 0 {
			continue
		}
		switch n, st := mr.lineEnd(win[i+len(mr.dash):], eof); st {
		case lineYes:
			mr.avail, mr.found = start, true
			mr.lineLen = i + len(mr.dash) + n - start
			return
		case lineUndecided:
			mr.avail, mr.found = start, false
			return
		}
	}
	mr.found = false
	mr.avail = len(win)
	if !eof {
		mr.avail -= mr.holdback(win)
	}
}

// lineEnd tells whether rest, what follows "--" boundary, makes a boundary
// line of it, and how many of its bytes belong to that line. It sets final
// and lineLF.
func (mr *partsReader) lineEnd(rest []byte, eof bool) (int, int) {
	undecided := lineUndecided
	if eof {
		undecided = lineNot
	}
	if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
		mr.final = true
		return 2, lineYes
	}
	if len(rest) == 1 && rest[0] == '-' {
		return 0, undecided
	}
	mr.final = false
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
		j++
	}
	switch {
	case j == len(rest):
		return 0, undecided
	case rest[j] == '\n' && (mr.eol == nil || len(mr.eol) == 1):
		mr.lineLF = true
		return j + 1, lineYes
	case rest[j] == '\r' && (mr.eol == nil || len(mr.eol) == 2):
		if j+1 == len(rest) {
			return 0, undecided
		}
		if rest[j+1] == '\n' {
			mr.lineLF = false
			return j + 2, lineYes
		}
	}
	return 0, lineNot
}

// holdback is how many bytes at the end of win could be the start of a
// delimiter, and so must not be returned as data yet.
func (mr *partsReader) holdback(win []byte) int {
	n := len(win)
	if mr.atStart && n < len(mr.dash) && bytes.HasPrefix(mr.dash, win) {
		return n
	}
	for q := max(0, n-len(mr.delim)+1); q < n; q++ {
		if bytes.HasPrefix(mr.delim, win[q:]) {
			return n - q
		}
	}
	return 0
}

// Read reads the part's data; io.EOF at its end.
func (p *rawPart) Read(b []byte) (int, error) {
	if p.mr.cur != p {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	d, err := p.mr.data()
	if err != nil {
		return 0, err
	}
	n := copy(b, d)
	p.mr.consume(n)
	return n, nil
}

// WriteTo writes the rest of the part's data to w straight from the read
// buffer, in pieces as large as it holds.
func (p *rawPart) WriteTo(w io.Writer) (int64, error) {
	if p.mr.cur != p {
		return 0, nil
	}
	var total int64
	for {
		d, err := p.mr.data()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(d)
		if n > len(d) || n < 0 {
			n = 0
			if err == nil {
				err = errors.New("part writer reported more bytes than it was given")
			}
		}
		p.mr.consume(n)
		total += int64(n)
		if err == nil && n < len(d) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, err
		}
	}
}
