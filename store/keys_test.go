package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, parts := range [][]string{
		{},
		{""},
		{"1.2.3"},
		{"1.2.3", "4.5", "6.7.8.9"},
		{"a\x00b", "\x00", "\x00\x00\xff"},
		{"", "", ""},
	} {
		k := key(tInstance, parts...)
		table, got, err := decodeKey(k)
		if err != nil || table != tInstance {
			t.Fatalf("%q: table %c, err %v", parts, table, err)
		}
		if len(parts) == 0 {
			parts = nil
		}
		if !reflect.DeepEqual(got, parts) {
			t.Errorf("round trip %q -> %q", parts, got)
		}
	}
	for _, bad := range [][]byte{{}, {tStudy, 'a'}, {tStudy, 'a', 0}, {tStudy, 'a', 0, 7}} {
		if _, _, err := decodeKey(bad); err == nil {
			t.Errorf("decodeKey(%q) accepted a malformed key", bad)
		}
	}
}

// Component order must be byte order of the encoded keys, so index scans
// return studies in UID order and prefixes of components stay prefixes.
func TestKeyOrderPreserving(t *testing.T) {
	alphabet := []byte{0x00, 0x01, '.', '0', '1', '9', 'A', 0xFE, 0xFF}
	rnd := rand.New(rand.NewPCG(1, 2))
	randStr := func() string {
		b := make([]byte, rnd.IntN(5))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return string(b)
	}
	type tuple [2]string
	var tuples []tuple
	for range 2000 {
		tuples = append(tuples, tuple{randStr(), randStr()})
	}
	cmpTuple := func(a, b tuple) int {
		if c := bytes.Compare([]byte(a[0]), []byte(b[0])); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a[1]), []byte(b[1]))
	}
	for i := 1; i < len(tuples); i++ {
		a, b := tuples[i-1], tuples[i]
		want := cmpTuple(a, b)
		got := bytes.Compare(key(tSeries, a[0], a[1]), key(tSeries, b[0], b[1]))
		if got != want {
			t.Fatalf("order of %q vs %q: keys compare %d, tuples %d", a, b, got, want)
		}
	}
	// Every key of a study sorts inside that study's prefix range.
	prefix := key(tInstance, "1.2")
	for _, k := range [][]byte{key(tInstance, "1.2", ""), key(tInstance, "1.2", "\xff\xff", "x")} {
		if !bytes.HasPrefix(k, prefix) || bytes.Compare(k, prefixEnd(prefix)) >= 0 {
			t.Errorf("%q outside prefix range of %q", k, prefix)
		}
	}
	// A study "1.2" must not capture study "1.23".
	if bytes.HasPrefix(key(tInstance, "1.23", "x"), prefix) {
		t.Error("prefix of study 1.2 captures study 1.23")
	}
	// String prefixes (for wildcard index scans) do capture longer values.
	if !bytes.HasPrefix(key(tIndex, ixAccession, "R0012", "1.2"), indexPrefix(ixAccession, "R001")) {
		t.Error("index prefix R001 does not capture R0012")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	attrs := dcm.Attrs{
		{Tag: dcm.PatientName, VR: dcm.PN, Values: []string{"MÜLLER^JOSÉ", "=ミュラー"}},
		{Tag: dcm.PatientID, VR: dcm.LO, Values: []string{"9990000018"}},
		{Tag: dcm.StudyDate, VR: dcm.DA},
	}
	inst := &instanceRec{
		Attrs: attrs, BlobID: 1 << 40, Size: 123456789, Received: -5,
		TransferSyntax: dcm.JPEGBaseline8Bit, Deflated: true, DatasetOffset: 332,
		Frames: &dcm.FrameTable{Count: 2, Fragmented: []dcm.Frame{{{Offset: 1000, Length: 10}, {Offset: 1018, Length: 4}}, {{Offset: 2000, Length: 7}}}},
		Bulk:   []bulkRef{{Path: "7FE00010", Offset: 990, Length: 1 << 33}},
	}
	inst.Digest = digest{alg: digestXXH3}
	inst.Digest.sum[0], inst.Digest.sum[15] = 0xAB, 0xCD
	got, err := decodeInstance(inst.encode())
	if err != nil || !reflect.DeepEqual(got, inst) {
		t.Errorf("instance round trip:\n got %+v (%v)\nwant %+v", got, err, inst)
	}
	// A record of version 1 had a SHA-256 and no algorithm byte.
	inst.Digest = digest{alg: digestSHA256}
	inst.Digest.sum[0], inst.Digest.sum[31] = 0xAB, 0xCD
	v1 := encoder{b: []byte{1}}
	v1.attrs(inst.Attrs)
	v1.uvarint(inst.BlobID)
	v1.varint(inst.Size)
	at := len(v1.b) // where version 2 has the algorithm
	v2 := inst.encode()
	if v2[at] != byte(digestSHA256) {
		t.Fatalf("the digest's algorithm is not where expected in %x", v2)
	}
	v1.b = append(v1.b, v2[at+1:]...)
	if got, err := decodeInstance(v1.b); err != nil || !reflect.DeepEqual(got, inst) {
		t.Errorf("version 1 instance:\n got %+v (%v)\nwant %+v", got, err, inst)
	}
	if got, err := decodeInstance(v2); err != nil || !reflect.DeepEqual(got, inst) {
		t.Errorf("SHA-256 instance round trip:\n got %+v (%v)\nwant %+v", got, err, inst)
	}
	unknown := slices.Clone(v2)
	unknown[at] = 9
	if _, err := decodeInstance(unknown); err == nil {
		t.Error("an unknown digest algorithm decoded")
	}
	native := &instanceRec{Attrs: attrs, Digest: digest{alg: digestXXH3}, Frames: &dcm.FrameTable{Count: 1 << 30, NativeOffset: 300, NativeSize: 1}}
	if got, err := decodeInstance(native.encode()); err != nil || !reflect.DeepEqual(got, native) {
		t.Errorf("native frame table round trip: %+v %v", got, err)
	}
	st := &studyRec{Attrs: attrs, PatientKey: "9990000018", Series: 2, Instances: 7, Modalities: []string{"IO", "PX"}, SOPClasses: []string{"1.2"}, Received: 99}
	if got, err := decodeStudy(st.encode()); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("study round trip: %+v %v", got, err)
	}
	se := &seriesRec{Attrs: attrs, Instances: 3}
	if got, err := decodeSeries(se.encode()); err != nil || !reflect.DeepEqual(got, se) {
		t.Errorf("series round trip: %+v %v", got, err)
	}
	p := &patientRec{Attrs: attrs, Studies: 1, Series: 2, Instances: 3}
	if got, err := decodePatient(p.encode()); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("patient round trip: %+v %v", got, err)
	}

	// A record from a newer format is refused, not misread.
	newer := slices.Clone(st.encode())
	newer[0] = recordVersion + 1
	if _, err := decodeStudy(newer); !errors.Is(err, errRecordVersion) {
		t.Errorf("newer record version: got %v", err)
	}
	// Every truncation of a record is an error, never a panic.
	enc := inst.encode()
	for n := 0; n < len(enc); n++ {
		if _, err := decodeInstance(enc[:n]); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded without error", n, len(enc))
		}
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add((&instanceRec{Attrs: dcm.Attrs{{Tag: 1, VR: dcm.CS, Values: []string{"A"}}}, Frames: &dcm.FrameTable{Count: 1, Fragmented: []dcm.Frame{{{Offset: 1, Length: 2}}}}}).encode())
	f.Add((&instanceRec{Frames: &dcm.FrameTable{Count: 1 << 30, NativeOffset: 300, NativeSize: 1}}).encode())
	f.Add((&studyRec{PatientKey: "x", Modalities: []string{"IO"}}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeInstance(b)
		decodeStudy(b)
		decodeSeries(b)
		decodePatient(b)
		decodeKey(b)
	})
}
