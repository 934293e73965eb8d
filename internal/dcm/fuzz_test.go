package dcm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/charset"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// fuzzOptions are smaller than the defaults so that the fuzzer reaches the
// keep/skip boundary with small inputs.
var fuzzOptions = dcm.ParseOptions{MaxInlineBinary: 64, MaxInlineValue: 64 << 10}

// allocBudget bounds what parsing n bytes may allocate: the pooled 64 KiB
// read buffer, per input byte a few element, item or fragment structs
// (each needs 4 to 12 bytes of header), and one value of MaxInlineValue,
// which the parser allocates before it knows whether the stream holds it.
// What must never happen is an allocation sized by a declared length.
func allocBudget(n int) uint64 {
	return 256<<10 + uint64(fuzzOptions.MaxInlineValue) + 64*uint64(n)
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

// checkAllocs fails t if parse allocates more than budget. It measures
// with runtime/metrics, which is cheap but counts small objects only when
// their span is swapped out, so it can charge a call with up to a few
// hundred KiB allocated before it. Only when that reading is over budget
// is the (deterministic) parse repeated under ReadMemStats, which is exact
// but stops the world: too slow for every input.
func checkAllocs(t *testing.T, budget uint64, parse func()) {
	t.Helper()
	metrics.Read(allocSample)
	before := allocSample[0].Value.Uint64()
	parse()
	metrics.Read(allocSample)
	if allocSample[0].Value.Uint64()-before <= budget {
		return
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	parse()
	runtime.ReadMemStats(&m1)
	if n := m1.TotalAlloc - m0.TotalAlloc; n > budget {
		t.Fatalf("parsing allocated %d bytes, budget %d", n, budget)
	}
}

// isOurs reports whether err wraps one of the parser's error kinds.
func isOurs(err error) bool {
	return errors.Is(err, dcm.ErrNotDICOM) || errors.Is(err, dcm.ErrTruncated) || errors.Is(err, dcm.ErrMalformed)
}

// fuzzSeeds are small files of every shape: transfer syntaxes, sequences,
// UN sequences, fragments with and without offset tables, deflate. They
// are kept under 3 KB: the fuzzer mutates and minimises them byte by byte.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, rel := range []string{
		"test_files/UN_sequence.dcm", "test_files/nested_priv_SQ.dcm", "test_files/priv_SQ.dcm",
		"test_files/rtplan.dcm", "test_files/SC_rgb_rle_2frame.dcm", "test_files/rtdose_expb_1frame.dcm",
		"test_files/reportsi.dcm", "test_files/meta_missing_tsyntax.dcm",
		"charset_files/chrSQEncoding.dcm", "charset_files/chrJapMulti.dcm",
	} {
		seeds = append(seeds, readPydicom(f, rel))
	}
	small, err := synth.Bytes(synth.Spec{
		StudyUID: "2.25.1", SeriesUID: "2.25.2", SOPInstanceUID: "2.25.3", PatientName: "Müller^José",
		Rows: 4, Columns: 4, Extra: map[dcm.Tag]synth.Value{dcm.NewTag(0x0009, 0x1002): {VR: dcm.OW, Value: "\x01\x00"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	soi := []byte{0xFF, 0xD8, 0xFF, 0xDB}
	withBOT, _ := encapsulated(f, 2, []uint32{0, 8 + 4 + 8 + 4}, nil, soi, []byte("ab"), soi, []byte("cd"))
	withEOT, _ := encapsulated(f, 2, nil, []uint64{0, 12}, soi, soi)
	noTable, _ := encapsulated(f, 3, nil, nil, soi, []byte("ab"), soi, soi, []byte("cd"))
	return append(seeds, small, deflated(f, small), withBOT, withEOT, noTable)
}

// FuzzParsePart10 feeds arbitrary bytes to ParsePart10. It must not panic,
// must allocate within allocBudget, must fail only with our errors, and
// what it accepts must hold together: values at their offsets, within
// the limits, and rendered by JSONWriter as valid JSON.
func FuzzParsePart10(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Inflation may legitimately turn a few bytes into many elements.
		var file *dcm.File
		var err error
		parse := func() { file, err = dcm.ParsePart10(bytes.NewReader(data), fuzzOptions) }
		if bytes.Contains(data, []byte(dcm.DeflatedExplicitVRLittleEndian)) {
			parse()
		} else {
			checkAllocs(t, allocBudget(len(data)), parse)
		}
		if err != nil {
			if !isOurs(err) {
				t.Fatalf("error wraps none of ErrNotDICOM, ErrTruncated, ErrMalformed: %v", err)
			}
			return
		}
		if file.Size != int64(len(data)) {
			t.Fatalf("Size %d, stream has %d bytes", file.Size, len(data))
		}
		checkLimits(t, file.Dataset)
		checkOffsets(t, file, data)
		exercise(t, file.Dataset)
	})
}

// FuzzParseDataset fuzzes bare datasets, as DIMSE delivers them, and the
// JSON writer on what they parse to. The first byte picks the transfer
// syntax, so the fuzzer need not find a file meta group first.
func FuzzParseDataset(f *testing.F) {
	syntaxes := []string{dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.DeflatedExplicitVRLittleEndian}
	for _, s := range fuzzSeeds(f) {
		file, err := dcm.ParsePart10(bytes.NewReader(s), dcm.ParseOptions{})
		if err != nil {
			continue
		}
		for i, uid := range syntaxes {
			if uid == file.TransferSyntax.UID || (i == 1 && file.TransferSyntax.Encapsulated) {
				f.Add(append([]byte{byte(i)}, s[file.DatasetOffset:]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ts, _ := dcm.LookupTransferSyntax(syntaxes[int(data[0])%len(syntaxes)])
		body := data[1:]
		var ds *dcm.Dataset
		var n int64
		var err error
		parse := func() { ds, n, err = dcm.ParseDataset(bytes.NewReader(body), ts, 0, fuzzOptions) }
		if ts.Deflated {
			parse()
		} else {
			checkAllocs(t, allocBudget(len(body)), parse)
		}
		if err != nil {
			if !isOurs(err) {
				t.Fatalf("error wraps none of ErrTruncated, ErrMalformed: %v", err)
			}
			return
		}
		if n != int64(len(body)) {
			t.Fatalf("read %d of %d bytes", n, len(body))
		}
		checkLimits(t, ds)
		if !ts.Deflated {
			checkDatasetOffsets(t, "", ds, body)
		}
		exercise(t, ds)
	})
}

// checkLimits: no kept value is longer than the options allow.
func checkLimits(t *testing.T, ds *dcm.Dataset) {
	t.Helper()
	for _, e := range ds.Elements {
		limit := fuzzOptions.MaxInlineValue
		if e.VR.IsBinary() {
			limit = fuzzOptions.MaxInlineBinary
		}
		if len(e.Value) > limit {
			t.Fatalf("%s (%s) keeps %d bytes, limit %d", e.Tag, e.VR, len(e.Value), limit)
		}
		for _, item := range e.Items {
			checkLimits(t, item)
		}
	}
}

// exercise runs what the archive does with a parsed dataset: DICOM JSON
// (which must be valid, with unique member names), frame location, text
// values. None of it may panic.
func exercise(t *testing.T, ds *dcm.Dataset) {
	t.Helper()
	out := (&dcm.JSONWriter{BulkURI: bulkURI}).Append(nil, ds)
	if !json.Valid(out) {
		t.Fatalf("JSONWriter wrote invalid JSON: %q", out)
	}
	if err := checkTagOrder(out); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	dcm.Frames(ds)
	walkStrings(ds, nil)
}

// checkTagOrder verifies PS3.18 F.2.2: the attributes of each DICOM JSON
// object are in ascending tag order, which also makes them unique.
func checkTagOrder(out []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		last    string
	}
	var stack []*frame
	d := json.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if key := tok.(string); isTagKey(key) {
				if key <= top.last {
					return fmt.Errorf("attribute %s after %s", key, top.last)
				}
				top.last = key
			}
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		default:
			if top != nil && top.object {
				top.wantKey = true
			}
		}
	}
}

func isTagKey(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func walkStrings(ds *dcm.Dataset, inherit *charset.Set) {
	cs, _ := ds.CharacterSet(inherit)
	for _, e := range ds.Elements {
		dcm.Strings(e, ds.ByteOrder(), cs)
		for _, item := range e.Items {
			walkStrings(item, cs)
		}
	}
}

// FuzzTranscode feeds arbitrary datasets to Transcode. The first byte picks
// the source and target transfer syntaxes. It must not panic, must fail
// only with our errors, and what it writes when it succeeds must parse in
// the target syntax, to its end.
func FuzzTranscode(f *testing.F) {
	sources := []string{dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.DeflatedExplicitVRLittleEndian, dcm.RLELossless}
	targets := sources[:4]
	pair := func(from, to int) byte { return byte(from + len(sources)*to) }
	for _, s := range fuzzSeeds(f) {
		file, err := dcm.ParsePart10(bytes.NewReader(s), dcm.ParseOptions{})
		if err != nil {
			continue
		}
		from := slices.Index(sources, file.TransferSyntax.UID)
		if from < 0 {
			continue
		}
		for to := range targets {
			f.Add(append([]byte{pair(from, to)}, s[file.DatasetOffset:]...))
		}
	}
	rgb := rleFrame([]byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}, []byte{9, 10, 11, 12})
	f.Add(append([]byte{pair(4, 2)}, rleDataset(2, 2, 3, 8, "2", []uint32{0, uint32(8 + len(rgb))}, rgb, rgb)...))
	f.Add(append([]byte{pair(4, 0)}, rleDataset(1, 2, 1, 16, "", nil, rleFrame([]byte{1, 2}, []byte{3, 4}))...))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		from, _ := dcm.LookupTransferSyntax(sources[int(data[0])%len(sources)])
		to, _ := dcm.LookupTransferSyntax(targets[int(data[0])/len(sources)%len(targets)])
		var out bytes.Buffer
		err := dcm.Transcode(&out, bytes.NewReader(data[1:]), from, to)
		if err != nil {
			if !errors.Is(err, dcm.ErrTruncated) && !errors.Is(err, dcm.ErrMalformed) && !errors.Is(err, dcm.ErrCannotTranscode) {
				t.Fatalf("%s to %s: error wraps none of ErrTruncated, ErrMalformed, ErrCannotTranscode: %v", from.Name, to.Name, err)
			}
			return
		}
		if from.UID == to.UID {
			return // copied, not looked at
		}
		size := int64(out.Len())
		_, n, err := dcm.ParseDataset(&out, to, 0, fuzzOptions)
		if err != nil {
			t.Fatalf("%s to %s: output does not parse: %v", from.Name, to.Name, err)
		}
		if !to.Deflated && n != size {
			t.Fatalf("%s to %s: parsed %d of %d bytes", from.Name, to.Name, n, size)
		}
	})
}
