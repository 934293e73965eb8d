package dicomweb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
)

// gotPart is a part as read: its header and data.
type gotPart struct {
	header textproto.MIMEHeader
	data   []byte
}

func (p gotPart) String() string { return fmt.Sprintf("%v %q", p.header, p.data) }

// readConfig is how a body is fed to partsReader and its parts read.
type readConfig struct {
	buf     int
	chunk   func(io.Reader) io.Reader // short reads; nil: as is
	writeTo bool                      // WriteTo rather than Read
	seed    uint64                    // sizes of Read calls
}

func (c readConfig) String() string {
	return fmt.Sprintf("buf=%d chunked=%v writeTo=%v", c.buf, c.chunk != nil, c.writeTo)
}

// parseMine reads every part of body with partsReader. err is nil when
// the close delimiter was reached.
func parseMine(t testing.TB, body []byte, boundary string, c readConfig) ([]gotPart, error) {
	var src io.Reader = bytes.NewReader(body)
	if c.chunk != nil {
		src = c.chunk(src)
	}
	mr := newPartsReader(src, boundary, c.buf)
	rng := rand.New(rand.NewPCG(c.seed, 1))
	var parts []gotPart
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			if err != io.EOF {
				t.Fatalf("NextRawPart: %v, wrapping io.EOF", err)
			}
			return parts, nil
		}
		if err != nil {
			return parts, err
		}
		var data bytes.Buffer
		if c.writeTo {
			w := &pieceWriter{max: len(mr.buf)}
			_, err = p.WriteTo(w)
			if w.tooBig {
				t.Fatalf("WriteTo wrote a piece larger than the buffer")
			}
			data.Write(w.b)
		} else {
			buf := make([]byte, 1+rng.IntN(3000))
			for err == nil {
				var n int
				n, err = p.Read(buf[:1+rng.IntN(len(buf))])
				data.Write(buf[:n])
			}
			if err == io.EOF {
				err = nil
			}
		}
		if err != nil {
			return parts, err
		}
		parts = append(parts, gotPart{p.Header, data.Bytes()})
	}
}

// pieceWriter collects what is written to it and checks piece sizes.
type pieceWriter struct {
	b      []byte
	max    int
	tooBig bool
	pieces int
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	if len(p) > w.max || len(p) == 0 {
		w.tooBig = true
	}
	w.pieces++
	w.b = append(w.b, p...)
	return len(p), nil
}

// oracle reads body with mime/multipart. ok: every part read without an
// error and NextRawPart ended in io.EOF itself.
func oracle(body []byte, boundary string) (parts []gotPart, ok bool) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, true
		}
		if err != nil {
			return parts, false
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return parts, false
		}
		parts = append(parts, gotPart{p.Header, data})
	}
}

// oracleClosed is oracle, and whether mime/multipart reached a close
// delimiter: a part appended after the body then changes nothing.
func oracleClosed(body []byte, boundary string) (parts []gotPart, ok, closed bool) {
	parts, ok = oracle(body, boundary)
	if !ok {
		return parts, false, false
	}
	// In either line break: the body's own is not known here.
	for _, eol := range []string{"\r\n", "\n"} {
		more := append(bytes.Clone(body), eol+"--"+boundary+eol+eol+"after"+eol+"--"+boundary+"--"...)
		if again, ok := oracle(more, boundary); ok && sameParts(parts, again) {
			return parts, true, true
		}
	}
	return parts, true, false
}

// closedInPreamble: the first boundary line of body is a close delimiter.
// partsReader then reads no parts; mime/multipart, when that line ends in
// a bare LF, skips it as preamble.
func closedInPreamble(body []byte, boundary string) bool {
	dash := []byte("--" + boundary)
	for i := 0; ; i++ {
		j := bytes.Index(body[i:], dash)
		if j < 0 {
			return false
		}
		i += j
		if i > 0 && body[i-1] != '\n' {
			continue
		}
		rest := body[i+len(dash):]
		if bytes.HasPrefix(rest, []byte("--")) {
			return true
		}
		rest = bytes.TrimLeft(rest, " \t")
		if bytes.HasPrefix(rest, []byte("\n")) || bytes.HasPrefix(rest, []byte("\r\n")) {
			return false
		}
	}
}

func sameParts(a, b []gotPart) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].data, b[i].data) || !sameHeader(a[i].header, b[i].header) {
			return false
		}
	}
	return true
}

func sameHeader(a, b textproto.MIMEHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

// chunkers are the ways the body comes in.
var chunkers = []struct {
	name string
	f    func(io.Reader) io.Reader
}{
	{"whole", nil},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data+EOF", iotest.DataErrReader},
	{"random", func(r io.Reader) io.Reader { return &randomReader{r: r, rng: rand.New(rand.NewPCG(7, 7))} }},
}

// randomReader returns short reads of random sizes, and now and then none.
type randomReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (r *randomReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.rng.IntN(20) == 0 {
		return 0, nil
	}
	n := 1 + r.rng.IntN(len(p))
	if r.rng.IntN(2) == 0 {
		n = 1 + r.rng.IntN(min(len(p), 100))
	}
	return r.r.Read(p[:n])
}

func TestPartsReaderCases(t *testing.T) {
	type want struct {
		parts []string // data of each part
		err   error    // nil: clean end; errAny: some error
	}
	errAny := errors.New("any error")
	for _, tc := range []struct {
		name, body string
		want
	}{
		{"one part", "--b\r\nContent-Type: application/dicom\r\n\r\nab\r\n--b--\r\n", want{[]string{"ab"}, nil}},
		{"two parts", "--b\r\n\r\nab\r\n--b\r\n\r\ncd\r\n--b--", want{[]string{"ab", "cd"}, nil}},
		{"no parts", "--b--\r\n", want{nil, nil}},
		{"preamble and epilogue", "pre\r\namble\r\n--b\r\n\r\nab\r\n--b--\r\nepi\r\n--b\r\n\r\nx", want{[]string{"ab"}, nil}},
		{"preamble ending in LF", "pre\n--b\r\n\r\nab\r\n--b--", want{[]string{"ab"}, nil}},
		{"boundary not at line start in preamble", "pre--b\r\n\r\nab\r\n", want{nil, io.ErrUnexpectedEOF}},
		{"empty part", "--b\r\n\r\n\r\n--b--", want{[]string{""}, nil}},
		{"empty part, no line break", "--b\r\nX: y\r\n\r\n--b\r\n\r\nab\r\n--b--", want{[]string{"", "ab"}, nil}},
		{"part of one CRLF", "--b\r\n\r\n\r\n\r\n--b--", want{[]string{"\r\n"}, nil}},
		{"padding", "--b \t\r\n\r\nab\r\n--b\t \r\n\r\ncd\r\n--b--  ", want{[]string{"ab", "cd"}, nil}},
		{"boundary, blank, then data", "--b\r\n\r\nab\r\n--b x\r\n--b\t-\r\n--b--", want{[]string{"ab\r\n--b x\r\n--b\t-"}, nil}},
		{"boundary followed by data", "--b\r\n\r\nab\r\n--bX\r\n--b-x\r\n--b\v\r\n--b--", want{[]string{"ab\r\n--bX\r\n--b-x\r\n--b\v"}, nil}},
		{"boundary after bare LF is data", "--b\r\n\r\nab\n--b\r\n\r\n--b--", want{[]string{"ab\n--b\r\n"}, nil}},
		{"boundary without line break is data", "--b\r\n\r\nab--b\r\n\r\n--b--", want{[]string{"ab--b\r\n"}, nil}},
		{"CR before CRLF", "--b\r\n\r\nab\r\r\n--b--", want{[]string{"ab\r"}, nil}},
		{"LF body", "--b\n\nab\n--b\n\ncd\r\n--b--\n", want{[]string{"ab", "cd\r"}, nil}},
		{"LF body, CRLF line is data", "--b\n\nab\n--b\r\n\n--b--", want{[]string{"ab\n--b\r\n"}, nil}},
		{"close without CRLF", "--b\r\n\r\nab\r\n--b--", want{[]string{"ab"}, nil}},
		{"close with garbage after", "--b\r\n\r\nab\r\n--b--garbage", want{[]string{"ab"}, nil}},
		{"first boundary is the close", "--b--garbage", want{nil, nil}},

		{"empty body", "", want{nil, io.ErrUnexpectedEOF}},
		{"no boundary", "just a preamble\r\n", want{nil, io.ErrUnexpectedEOF}},
		{"first boundary line cut", "--b", want{nil, io.ErrUnexpectedEOF}},
		{"header cut", "--b\r\nX: y", want{nil, io.ErrUnexpectedEOF}},
		{"header cut after boundary line", "--b\r\n", want{nil, io.ErrUnexpectedEOF}},
		{"data cut", "--b\r\n\r\nab", want{nil, io.ErrUnexpectedEOF}},
		{"data cut at CR", "--b\r\n\r\nab\r", want{nil, io.ErrUnexpectedEOF}},
		{"cut in delimiter", "--b\r\n\r\nab\r\n--", want{nil, io.ErrUnexpectedEOF}},
		{"cut after delimiter", "--b\r\n\r\nab\r\n--b", want{nil, io.ErrUnexpectedEOF}},
		{"cut in close delimiter", "--b\r\n\r\nab\r\n--b-", want{nil, io.ErrUnexpectedEOF}},
		{"cut after padding", "--b\r\n\r\nab\r\n--b  ", want{nil, io.ErrUnexpectedEOF}},
		{"cut after boundary line", "--b\r\n\r\nab\r\n--b\r\n", want{[]string{"ab"}, io.ErrUnexpectedEOF}},
		{"missing close delimiter", "--b\r\n\r\nab\r\n--b\r\n\r\ncd\r\n", want{[]string{"ab"}, io.ErrUnexpectedEOF}},
		{"garbage header", "--b\r\ngarbage\r\n\r\nab\r\n--b--", want{nil, errAny}},
		{"header without blank line", "--b\r\nX: y\r\n--b--", want{nil, errAny}},
		{"header starting with a blank", "--b\r\n X: y\r\n\r\nab\r\n--b--", want{nil, errAny}},
		{"oversized header", "--b\r\nX: " + strings.Repeat("y", maxPartHeader) + "\r\n\r\nab\r\n--b--", want{nil, errHeaderTooLarge}},
	} {
		for _, ch := range chunkers {
			for _, wt := range []bool{false, true} {
				c := readConfig{buf: 128, chunk: ch.f, writeTo: wt}
				parts, err := parseMine(t, []byte(tc.body), "b", c)
				var data []string
				for _, p := range parts {
					data = append(data, string(p.data))
				}
				if fmt.Sprintf("%q", data) != fmt.Sprintf("%q", tc.parts) {
					t.Errorf("%s (%s, %v): parts %q, want %q", tc.name, ch.name, c, data, tc.parts)
				}
				switch {
				case tc.err == nil && err != nil, tc.err != nil && err == nil:
					t.Errorf("%s (%s, %v): error %v, want %v", tc.name, ch.name, c, err, tc.err)
				case tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
					t.Errorf("%s (%s, %v): error %v, want %v", tc.name, ch.name, c, err, tc.err)
				}
			}
		}
	}
}

// TestPartsReaderHeader: the header as textproto parses it.
func TestPartsReaderHeader(t *testing.T) {
	body := "--b\r\nContent-Type: application/dicom\r\ncontent-id: <1>\r\nX-Folded: a\r\n b\r\n\r\nab\r\n--b\r\n\r\ncd\r\n--b--"
	parts, err := parseMine(t, []byte(body), "b", readConfig{buf: 128, chunk: iotest.OneByteReader})
	if err != nil || len(parts) != 2 {
		t.Fatalf("%v %v", parts, err)
	}
	h := parts[0].header
	if h.Get("Content-Type") != "application/dicom" || h.Get("Content-Id") != "<1>" || h.Get("X-Folded") != "a b" || len(parts[1].header) != 0 {
		t.Errorf("headers %v, %v", h, parts[1].header)
	}
}

// genBody makes a valid multipart body and the parts in it.
func genBody(rng *rand.Rand, maxSize int) (body []byte, boundary string, parts []gotPart) {
	const bchars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
	n := 1 + rng.IntN(70)
	if rng.IntN(3) == 0 {
		n = 1 + rng.IntN(4)
	}
	bb := make([]byte, n)
	for i := range bb {
		bb[i] = bchars[rng.IntN(len(bchars))]
	}
	if bb[n-1] == ' ' {
		bb[n-1] = 'z'
	}
	boundary = string(bb)
	eol := "\r\n"
	if rng.IntN(8) == 0 {
		eol = "\n"
	}
	dash := "--" + boundary
	pad := func() string {
		if rng.IntN(4) != 0 {
			return ""
		}
		return strings.Repeat(" \t"[rng.IntN(2):][:1], rng.IntN(5))
	}
	var b bytes.Buffer
	switch rng.IntN(3) {
	case 1:
		b.WriteString("preamble, " + dash + " not at a line start" + eol)
	case 2:
		b.WriteString(eol)
	}
	for range rng.IntN(6) {
		b.WriteString(dash + pad() + eol)
		h := textproto.MIMEHeader{}
		var hb strings.Builder
		for range rng.IntN(3) {
			k := []string{"Content-Type", "Content-Id", "X-Long"}[rng.IntN(3)]
			v := []string{"application/dicom", "<" + dash + ">", strings.Repeat("v", rng.IntN(400))}[rng.IntN(3)]
			h.Add(k, v)
			hb.WriteString(k + ": " + v + eol)
		}
		b.WriteString(hb.String() + eol)
		data := genData(rng, maxSize, eol, dash)
		b.Write(data)
		b.WriteString(eol)
		parts = append(parts, gotPart{h, data})
	}
	b.WriteString(dash + "--")
	switch rng.IntN(3) {
	case 1:
		b.WriteString(pad() + eol)
	case 2:
		b.WriteString(eol + "epilogue " + eol + dash + eol)
	}
	return b.Bytes(), boundary, parts
}

// genData is part data rich in what could be taken for a delimiter.
func genData(rng *rand.Rand, maxSize int, eol, dash string) []byte {
	size := rng.IntN(maxSize + 1)
	switch rng.IntN(6) {
	case 0:
		size = 0
	case 1:
		size = rng.IntN(300)
	}
	d := make([]byte, 0, size+100)
	for len(d) < size {
		switch rng.IntN(12) {
		case 0:
			d = append(d, '\r')
		case 1:
			d = append(d, '\n')
		case 2:
			d = append(d, "\r\n"...)
		case 3:
			d = append(d, '-', '-')
		case 4: // a prefix of the delimiter
			k := rng.IntN(len(dash))
			d = append(d, eol+dash[:k]+"\x00"...)
		case 5: // the boundary, not at a line start
			d = append(d, "x"+dash+eol...)
		case 6: // the boundary at a line start, followed by something else
			d = append(d, eol+dash+[]string{"x", "-x", "\v"}[rng.IntN(3)]...)
		case 7:
			if eol == "\r\n" { // bare LF: data in a CRLF body
				d = append(d, "x\n"+dash+eol...)
			}
		default:
			for range rng.IntN(min(2000, size-len(d)) + 1) {
				d = append(d, byte(rng.Uint32()))
			}
		}
	}
	switch rng.IntN(4) {
	case 0:
		d = append(d, '\r')
	case 1:
		d = append(d, "\r\n"...)
	}
	return d
}

// valid: mime/multipart reads the intended parts from body (generated
// data now and then holds a delimiter by chance: a short boundary of
// dashes, say).
func validBody(body []byte, boundary string, parts []gotPart) bool {
	got, _, closed := oracleClosed(body, boundary)
	return closed && sameParts(got, parts)
}

// TestPartsReaderProperty: generated bodies read alike through every
// buffer size and way of reading, and as mime/multipart reads them.
func TestPartsReaderProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	runs, skipped := 300, 0
	if testing.Short() {
		runs = 60
	}
	for i := range runs {
		maxSize := 2000
		if i%10 == 0 {
			maxSize = 600 << 10
		}
		body, boundary, want := genBody(rng, maxSize)
		if !validBody(body, boundary, want) {
			skipped++
			continue
		}
		for _, size := range []int{128, 200, 1000, 4096, 64 << 10, 256 << 10} {
			for _, ch := range chunkers {
				if ch.name == "one byte" && len(body) > 100<<10 {
					continue
				}
				for _, wt := range []bool{false, true} {
					c := readConfig{buf: size, chunk: ch.f, writeTo: wt, seed: uint64(i)}
					got, err := parseMine(t, body, boundary, c)
					if err != nil || !sameParts(got, want) {
						t.Fatalf("body %d (%d bytes, boundary %q) %s %v: %v, %d parts of %d\n%q", i, len(body), boundary, ch.name, c, err, len(got), len(want), truncate(string(body), 2000))
					}
				}
			}
		}
	}
	t.Logf("%d of %d generated bodies skipped as not valid", skipped, runs)
	if skipped > runs/5 {
		t.Errorf("%d of %d generated bodies were not valid", skipped, runs)
	}
}

// TestPartsReaderTruncated: a valid body cut anywhere before the end of
// its close delimiter is an error, io.ErrUnexpectedEOF, with the parts
// read before it intact.
func TestPartsReaderTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 40; i++ {
		body, boundary, want := genBody(rng, 300)
		if !validBody(body, boundary, want) {
			continue
		}
		end := bytes.LastIndex(body, []byte("--"+boundary+"--")) + len(boundary) + 4
		for k := 0; k <= len(body); k++ {
			c := readConfig{buf: 128, chunk: chunkers[k%len(chunkers)].f, writeTo: k%2 == 0}
			got, err := parseMine(t, body[:k], boundary, c)
			if k < end {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("body %d cut at %d of %d: %v, want io.ErrUnexpectedEOF\n%q", i, k, len(body), err, body[:k])
				}
				if len(got) > len(want) || !sameParts(got, want[:len(got)]) {
					t.Fatalf("body %d cut at %d: parts before the cut differ", i, k)
				}
			} else if err != nil || !sameParts(got, want) {
				t.Fatalf("body %d cut at %d, in the epilogue: %v", i, k, err)
			}
		}
	}
}

// TestPartsReaderSkip: parts left unread, or read in part, are skipped.
func TestPartsReaderSkip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		body, boundary, want := genBody(rng, 50000)
		if !validBody(body, boundary, want) {
			continue
		}
		mr := newPartsReader(iotest.HalfReader(bytes.NewReader(body)), boundary, 1000)
		for j := 0; ; j++ {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				if j != len(want) {
					t.Fatalf("body %d: %d parts, want %d", i, j, len(want))
				}
				break
			}
			if err != nil {
				t.Fatalf("body %d part %d: %v", i, j, err)
			}
			if !sameHeader(p.Header, want[j].header) {
				t.Fatalf("body %d part %d: header %v, want %v", i, j, p.Header, want[j].header)
			}
			if j%2 == 1 {
				k := rng.IntN(len(want[j].data) + 1)
				got, err := io.ReadAll(io.LimitReader(p, int64(k)))
				if err != nil || !bytes.Equal(got, want[j].data[:k]) {
					t.Fatalf("body %d part %d: first %d bytes differ (%v)", i, j, k, err)
				}
			}
		}
		if _, err := mr.NextRawPart(); err != io.EOF {
			t.Fatalf("NextRawPart after the end: %v", err)
		}
	}
}

// TestPartsReaderStalePart: a part once the next one is asked for reads
// no more.
func TestPartsReaderStalePart(t *testing.T) {
	mr := newPartsReader(strings.NewReader("--b\r\n\r\nab\r\n--b\r\n\r\ncd\r\n--b--"), "b", 128)
	p1, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p1.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("stale part read %d, %v", n, err)
	}
	if n, err := p1.WriteTo(io.Discard); n != 0 || err != nil {
		t.Errorf("stale part wrote %d, %v", n, err)
	}
	if b, err := io.ReadAll(p2); string(b) != "cd" || err != nil {
		t.Errorf("part 2: %q, %v", b, err)
	}
}

// TestPartsReaderWriteTo: pieces as large as the buffer holds; a failing
// writer leaves the rest of the part to be skipped.
func TestPartsReaderWriteTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	data = bytes.ReplaceAll(data, []byte("--"), []byte("-x"))
	body := []byte("--b\r\n\r\n" + string(data) + "\r\n--b\r\n\r\nnext\r\n--b--\r\n")
	mr := newPartsReader(bytes.NewReader(body), "b", stowBuffer)
	p, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	w := &pieceWriter{max: stowBuffer}
	if n, err := p.WriteTo(w); err != nil || n != int64(len(data)) || !bytes.Equal(w.b, data) || w.tooBig {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	if w.pieces > len(data)/(stowBuffer-100)+1 {
		t.Errorf("%d pieces for %d bytes through a %d-byte buffer", w.pieces, len(data), stowBuffer)
	}
	if p2, err := mr.NextRawPart(); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(p2); string(b) != "next" {
		t.Errorf("next part %q", b)
	}

	mr = newPartsReader(bytes.NewReader(body), "b", 4096)
	p, _ = mr.NextRawPart()
	errStop := errors.New("stop")
	if _, err := p.WriteTo(&failingWriter{after: 10000, err: errStop}); err != errStop {
		t.Errorf("WriteTo to a failing writer: %v", err)
	}
	if _, err := p.WriteTo(&failingWriter{after: 10, err: nil}); err != io.ErrShortWrite {
		t.Errorf("WriteTo to a short writer: %v", err)
	}
	p2, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(p2); string(b) != "next" {
		t.Errorf("next part after a failed WriteTo: %q", b)
	}
}

// failingWriter takes after bytes, then fails with err (a short write if nil).
type failingWriter struct {
	after int
	err   error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.after {
		w.after -= len(p)
		return len(p), nil
	}
	n := w.after
	w.after = 0
	return n, w.err
}

// TestPartsReaderBadSource: read errors come through; a reader that never
// returns anything, and padding longer than the buffer, are errors, not
// hangs.
func TestPartsReaderBadSource(t *testing.T) {
	errBoom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("--b\r\n\r\nabc"), iotest.ErrReader(errBoom))
	mr := newPartsReader(src, "b", 128)
	p, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(p); string(b) != "abc" || err != errBoom {
		t.Errorf("read %q, %v; want abc, boom", b, err)
	}
	if _, err := mr.NextRawPart(); err != errBoom {
		t.Errorf("NextRawPart after a read error: %v", err)
	}

	mr = newPartsReader(zeroReader{}, "b", 128)
	if _, err := mr.NextRawPart(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a reader stuck at 0, nil: %v", err)
	}

	body := "--b\r\n\r\nab\r\n--b" + strings.Repeat(" ", 1000) + "\r\n\r\ncd\r\n--b--"
	if _, err := parseMine(t, []byte(body), "b", readConfig{buf: 128}); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("padding longer than the buffer: %v", err)
	}
	if parts, err := parseMine(t, []byte(body), "b", readConfig{buf: 4096}); err != nil || len(parts) != 2 {
		t.Errorf("padding within the buffer: %v, %v", parts, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// fuzzBoundaries are the boundaries FuzzPartsReader picks from.
var fuzzBoundaries = []string{"b", "--", "a b", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"}

// FuzzPartsReader: inputs read alike through every buffer and way of
// reading; on what mime/multipart reads to a close delimiter, partsReader
// reads the same; never a panic or a hang.
func FuzzPartsReader(f *testing.F) {
	for _, s := range []string{
		"--b\r\nContent-Type: application/dicom\r\n\r\nab\r\n--b--\r\n",
		"pre\r\n--b \r\nX: y\r\n\r\n\r\n--b\r\n\r\n\r\n--b\r\n\r\ncd\r\n--bX\r\n--b-\r\n--b--",
		"--b\n\nab\n--b\n\ncd\r\n--b--\n",
		"--b\r\n\r\nab\r\r\n--b\t\r\n\r\n\n--b\r\n--b--garbage",
		"------\r\n\r\n--------\r\n------\r\n\r\n-------\r\n--------",
		"--a b\r\n\r\n--a bc\r\n--a b--",
	} {
		for sel := range 4 {
			f.Add([]byte(s), uint8(sel*21))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		boundary := fuzzBoundaries[sel%4]
		small := readConfig{buf: []int{0, 128, 300}[int(sel/4)%3], chunk: chunkers[int(sel/12)%len(chunkers)].f, seed: uint64(sel)}
		big := readConfig{buf: 256 << 10, writeTo: true}
		got, err := parseMine(t, body, boundary, big)
		got2, err2 := parseMine(t, body, boundary, small)
		if !errors.Is(err, errPaddingTooLong) && !errors.Is(err2, errPaddingTooLong) {
			if !sameParts(got, got2) || (err == nil) != (err2 == nil) || errors.Is(err, io.ErrUnexpectedEOF) != errors.Is(err2, io.ErrUnexpectedEOF) {
				t.Fatalf("reads differ with the buffer: %v %v / %v %v", got, err, got2, err2)
			}
		}
		want, ok, closed := oracleClosed(body, boundary)
		switch {
		case closed && err == nil && len(got) == 0 && closedInPreamble(body, boundary):
		case closed:
			if err != nil || !sameParts(got, want) {
				t.Fatalf("mime/multipart reads %v; partsReader %v, %v", want, got, err)
			}
		case ok:
			// mime/multipart ran out of body without a close delimiter
			// and took it for the end: an error here, after the same parts.
			if err == nil && !sameParts(got, want) || err != nil && (!errors.Is(err, io.ErrUnexpectedEOF) || len(got) > len(want) || !sameParts(got, want[:len(got)])) {
				t.Fatalf("mime/multipart reads %v, no close delimiter; partsReader %v, %v", want, got, err)
			}
		}
	})
}
