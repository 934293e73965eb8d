package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/molar-pacs/molar/internal/dcm"
)

// recordVersion is written first in every record value. A store written by
// a newer Molar refuses to be read by an older one rather than misread.
// Version 2 instance records name their digest's algorithm (version 1's
// are SHA-256); the other records are the same in both.
const recordVersion = 2

var errRecordVersion = errors.New("index record written by a newer version of Molar")

type patientRec struct {
	Attrs                      dcm.Attrs
	Studies, Series, Instances int64
}

type studyRec struct {
	Attrs             dcm.Attrs
	PatientKey        string
	Series, Instances int64
	Modalities        []string
	SOPClasses        []string
	Received          int64 // unix nanoseconds of the first instance
}

type seriesRec struct {
	Attrs     dcm.Attrs
	Instances int64
}

type bulkRef struct {
	Path           string
	Offset, Length int64
}

type instanceRec struct {
	Attrs          dcm.Attrs
	BlobID         uint64
	Size           int64
	Digest         digest
	Received       int64
	TransferSyntax string
	Deflated       bool
	DatasetOffset  int64
	Frames         *dcm.FrameTable
	Bulk           []bulkRef
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}
func (e *encoder) attrs(as dcm.Attrs) {
	e.uvarint(uint64(len(as)))
	for _, a := range as {
		e.uvarint(uint64(a.Tag))
		e.uvarint(uint64(a.VR))
		e.strs(a.Values)
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("corrupt index record: bad %s", what)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("list length")
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) attrs() dcm.Attrs {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("attribute count")
		return nil
	}
	out := make(dcm.Attrs, n)
	for i := range out {
		out[i].Tag = dcm.Tag(d.uvarint())
		out[i].VR = dcm.VR(d.uvarint())
		out[i].Values = d.strs()
	}
	return out
}

func (d *decoder) version() uint64 {
	v := d.uvarint()
	if d.err == nil && v > recordVersion {
		d.err = errRecordVersion
	}
	return v
}

func (r *patientRec) encode() []byte {
	e := encoder{b: []byte{recordVersion}}
	e.attrs(r.Attrs)
	e.varint(r.Studies)
	e.varint(r.Series)
	e.varint(r.Instances)
	return e.b
}

func decodePatient(b []byte) (*patientRec, error) {
	d := decoder{b: b}
	d.version()
	r := &patientRec{Attrs: d.attrs(), Studies: d.varint(), Series: d.varint(), Instances: d.varint()}
	return r, d.err
}

func (r *studyRec) encode() []byte {
	e := encoder{b: []byte{recordVersion}}
	e.attrs(r.Attrs)
	e.str(r.PatientKey)
	e.varint(r.Series)
	e.varint(r.Instances)
	e.strs(r.Modalities)
	e.strs(r.SOPClasses)
	e.varint(r.Received)
	return e.b
}

func decodeStudy(b []byte) (*studyRec, error) {
	d := decoder{b: b}
	d.version()
	r := &studyRec{Attrs: d.attrs(), PatientKey: d.str(), Series: d.varint(), Instances: d.varint(),
		Modalities: d.strs(), SOPClasses: d.strs(), Received: d.varint()}
	return r, d.err
}

func (r *seriesRec) encode() []byte {
	e := encoder{b: []byte{recordVersion}}
	e.attrs(r.Attrs)
	e.varint(r.Instances)
	return e.b
}

func decodeSeries(b []byte) (*seriesRec, error) {
	d := decoder{b: b}
	d.version()
	r := &seriesRec{Attrs: d.attrs(), Instances: d.varint()}
	return r, d.err
}

func (r *instanceRec) encode() []byte {
	e := encoder{b: []byte{recordVersion}}
	e.attrs(r.Attrs)
	e.uvarint(r.BlobID)
	e.varint(r.Size)
	e.b = append(e.b, byte(r.Digest.alg))
	e.b = append(e.b, r.Digest.sum[:r.Digest.alg.size()]...)
	e.varint(r.Received)
	e.str(r.TransferSyntax)
	if r.Deflated {
		e.uvarint(1)
	} else {
		e.uvarint(0)
	}
	e.varint(r.DatasetOffset)
	encodeFrames(&e, r.Frames)
	e.uvarint(uint64(len(r.Bulk)))
	for _, b := range r.Bulk {
		e.str(b.Path)
		e.varint(b.Offset)
		e.varint(b.Length)
	}
	return e.b
}

func decodeInstance(b []byte) (*instanceRec, error) {
	d := decoder{b: b}
	v := d.version()
	r := &instanceRec{Attrs: d.attrs(), BlobID: d.uvarint(), Size: d.varint()}
	r.Digest.alg = digestSHA256
	if v >= 2 && d.err == nil && len(d.b) > 0 {
		r.Digest.alg, d.b = digestAlg(d.b[0]), d.b[1:]
		if r.Digest.alg != digestSHA256 && r.Digest.alg != digestXXH3 {
			d.fail("digest algorithm")
		}
	}
	if d.err == nil {
		if n := r.Digest.alg.size(); len(d.b) < n {
			d.fail("digest")
		} else {
			copy(r.Digest.sum[:], d.b[:n])
			d.b = d.b[n:]
		}
	}
	r.Received = d.varint()
	r.TransferSyntax = d.str()
	r.Deflated = d.uvarint() == 1
	r.DatasetOffset = d.varint()
	r.Frames = decodeFrames(&d)
	if d.err != nil {
		return nil, d.err
	}
	nb := d.uvarint()
	if nb > uint64(len(d.b)) {
		d.fail("bulk count")
		return nil, d.err
	}
	for i := uint64(0); i < nb; i++ {
		r.Bulk = append(r.Bulk, bulkRef{Path: d.str(), Offset: d.varint(), Length: d.varint()})
	}
	return r, d.err
}

// Frame tables are stored by kind: none, native (three numbers whatever the
// frame count) or fragmented (each frame's segments).
const (
	framesNone = iota
	framesNative
	framesFragmented
)

func encodeFrames(e *encoder, t *dcm.FrameTable) {
	switch {
	case t == nil:
		e.uvarint(framesNone)
	case t.Fragmented == nil:
		e.uvarint(framesNative)
		e.uvarint(uint64(t.Count))
		e.varint(t.NativeOffset)
		e.varint(t.NativeSize)
	default:
		e.uvarint(framesFragmented)
		e.uvarint(uint64(len(t.Fragmented)))
		for _, f := range t.Fragmented {
			e.uvarint(uint64(len(f)))
			for _, s := range f {
				e.varint(s.Offset)
				e.varint(s.Length)
			}
		}
	}
}

func decodeFrames(d *decoder) *dcm.FrameTable {
	switch d.uvarint() {
	case framesNone:
		return nil
	case framesNative:
		t := &dcm.FrameTable{Count: int(d.uvarint()), NativeOffset: d.varint(), NativeSize: d.varint()}
		if t.Count < 0 || t.NativeSize < 0 {
			d.fail("frame table")
		}
		return t
	case framesFragmented:
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail("frame count")
			return nil
		}
		t := &dcm.FrameTable{Count: int(n), Fragmented: make([]dcm.Frame, n)}
		for i := range t.Fragmented {
			ns := d.uvarint()
			if ns > uint64(len(d.b)) {
				d.fail("segment count")
				return nil
			}
			f := make(dcm.Frame, ns)
			for j := range f {
				f[j].Offset = d.varint()
				f[j].Length = d.varint()
			}
			t.Fragmented[i] = f
		}
		return t
	default:
		d.fail("frame table kind")
		return nil
	}
}
