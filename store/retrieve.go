package store

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Instance is a stored instance open for reading. Close it when done.
type Instance struct {
	StudyUID, SeriesUID, SOPInstanceUID string
	SOPClassUID                         string
	TransferSyntax                      string
	Size                                int64
	// Version names these bytes of the instance, for ETags: another copy
	// stored under the same UID (a replacement) has another version.
	Version string
	// Frames is the number of frames whose bytes can be located.
	Frames int

	rec  *instanceRec
	blob Blob
}

// Close releases the blob.
func (in *Instance) Close() error { return in.blob.Close() }

// Attrs returns the instance's indexed attributes (SOP class, rows,
// columns, bits allocated, number of frames, …; see instanceTags).
func (in *Instance) Attrs() dcm.Attrs { return in.rec.Attrs }

// Reader returns the whole instance as stored: Part 10 bytes as received.
func (in *Instance) Reader() *io.SectionReader { return io.NewSectionReader(in.blob, 0, in.Size) }

// DatasetReader returns the dataset without the preamble and file meta
// information, in the stored transfer syntax, as C-STORE sends it.
func (in *Instance) DatasetReader() *io.SectionReader {
	return io.NewSectionReader(in.blob, in.rec.DatasetOffset, in.Size-in.rec.DatasetOffset)
}

// Frame returns the bytes of frame n (1-based): native pixel data of that
// frame, or the concatenated fragments of a compressed frame.
func (in *Instance) Frame(n int) (io.Reader, int64, error) {
	if n < 1 || n > in.rec.Frames.Len() {
		return nil, 0, fmt.Errorf("frame %d of instance %s (has %d): %w", n, in.SOPInstanceUID, in.rec.Frames.Len(), ErrNotFound)
	}
	f := in.rec.Frames.At(n - 1)
	readers := make([]io.Reader, len(f))
	for i, seg := range f {
		r, err := in.section(seg.Offset, seg.Length)
		if err != nil {
			return nil, 0, err
		}
		readers[i] = r
	}
	return io.MultiReader(readers...), f.Size(), nil
}

// Bulk returns the value named by a BulkDataURI's last path part (see
// dcm.BulkPath), e.g. "7FE00010".
func (in *Instance) Bulk(path string) (io.Reader, int64, error) {
	for _, b := range in.rec.Bulk {
		if b.Path == path {
			r, err := in.section(b.Offset, b.Length)
			return r, b.Length, err
		}
	}
	return nil, 0, fmt.Errorf("bulk data %s of instance %s: %w", path, in.SOPInstanceUID, ErrNotFound)
}

// section reads a value by its dataset offset. Deflated datasets have no
// byte ranges, so their values are found by inflating from the start.
func (in *Instance) section(off, n int64) (io.Reader, error) {
	if !in.rec.Deflated {
		return io.NewSectionReader(in.blob, off, n), nil
	}
	fr := flate.NewReader(bufio.NewReader(in.DatasetReader()))
	if _, err := io.CopyN(io.Discard, fr, off); err != nil {
		return nil, fmt.Errorf("inflate instance %s: %w", in.SOPInstanceUID, err)
	}
	return io.LimitReader(fr, n), nil
}

// OpenInstance opens a stored instance by SOP Instance UID.
func (s *Store) OpenInstance(ctx context.Context, sop string) (*Instance, error) {
	parts, err := s.lookup(tSOP, sop)
	if err != nil {
		return nil, fmt.Errorf("open instance %s: %w", sop, err)
	}
	if parts == nil {
		return nil, fmt.Errorf("instance %s: %w", sop, ErrNotFound)
	}
	rec, err := getRecord(s.view, key(tInstance, parts[0], parts[1], sop), decodeInstance)
	if err != nil {
		return nil, fmt.Errorf("open instance %s: %w", sop, err)
	}
	if rec == nil {
		// Deleted between the two reads.
		return nil, fmt.Errorf("instance %s: %w", sop, ErrNotFound)
	}
	blob, err := s.openBlob(rec.BlobID, nil)
	if err != nil {
		return nil, fmt.Errorf("open instance %s: %w", sop, err)
	}
	return &Instance{
		StudyUID: parts[0], SeriesUID: parts[1], SOPInstanceUID: sop,
		SOPClassUID: rec.Attrs.First(dcm.SOPClassUID), TransferSyntax: rec.TransferSyntax,
		Size: rec.Size, Version: fmt.Sprintf("%x-%x", rec.Digest.sum[:8], rec.BlobID), Frames: rec.Frames.Len(), rec: rec, blob: blob,
	}, nil
}

// InstanceRef names a stored instance and what a retrieve needs to plan
// its transfer, without opening the blob.
type InstanceRef struct {
	StudyUID, SeriesUID, SOPInstanceUID string
	SOPClassUID, TransferSyntax         string
	Size                                int64
}

// ListInstances calls fn for each instance of a study, or of one series
// when series is set, in index order.
func (s *Store) ListInstances(ctx context.Context, study, series string, fn func(InstanceRef) error) error {
	prefix := key(tInstance, study)
	if series != "" {
		prefix = key(tInstance, study, series)
	}
	return s.scanParts(ctx, prefix, 3, func(parts []string, v []byte) error {
		rec, err := decodeInstance(v)
		if err != nil {
			return err
		}
		return fn(InstanceRef{StudyUID: parts[0], SeriesUID: parts[1], SOPInstanceUID: parts[2],
			SOPClassUID: rec.Attrs.First(dcm.SOPClassUID), TransferSyntax: rec.TransferSyntax, Size: rec.Size})
	})
}

// Metadata writes the DICOM JSON array of a study, a series (series set)
// or one instance (sop set) to w, from the JSON computed at ingest: no blob
// is opened. BulkDataURIs are made absolute by prefixing bulkBase (the
// DICOMweb root URL), when it is not empty. It returns how many instances
// were written, and ErrNotFound when there were none.
func (s *Store) Metadata(ctx context.Context, study, series, sop string, bulkBase string, w io.Writer) (int, error) {
	var prefix []byte
	switch {
	case sop != "":
		prefix = key(tMetadata, study, series, sop)
	case series != "":
		prefix = key(tMetadata, study, series)
	default:
		prefix = key(tMetadata, study)
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	n := 0
	err := s.scan(ctx, prefix, prefixEnd(prefix), func(_, v []byte) error {
		if n == 0 {
			bw.WriteByte('[')
		} else {
			bw.WriteByte(',')
		}
		n++
		writeWithBulkBase(bw, v, bulkBase)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("metadata %s/%s/%s: %w", study, series, sop, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("metadata %s/%s/%s: %w", study, series, sop, ErrNotFound)
	}
	bw.WriteByte(']')
	return n, bw.Flush()
}

var bulkURIKey = []byte(`"BulkDataURI":"`)

// writeWithBulkBase copies stored JSON, prefixing relative BulkDataURIs.
// The key can only occur as a key: a string value would have its quotes
// escaped.
func writeWithBulkBase(w *bufio.Writer, js []byte, base string) {
	if base == "" {
		w.Write(js)
		return
	}
	for {
		i := bytes.Index(js, bulkURIKey)
		if i < 0 {
			w.Write(js)
			return
		}
		i += len(bulkURIKey)
		w.Write(js[:i])
		w.WriteString(base)
		w.WriteByte('/')
		js = js[i:]
	}
}
