package sc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// SOPClassUID is the Secondary Capture Image Storage SOP class.
const SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"

// Limits on what Wrap accepts. Both are checked before the image is
// decoded: a header that declares more pixels is refused without
// allocating them.
const (
	// MaxPixels bounds Rows×Columns: 100 megapixels is a 600 dpi scan of
	// a whole panoramic film several times over. Decoding a 16-bit RGBA
	// PNG of that size takes 800 MB, its RGB pixel data 600 MB more.
	MaxPixels = 100_000_000
	// MaxInputBytes bounds the upload Wrap reads.
	MaxInputBytes = 256 << 20
	// maxSide is the largest Rows or Columns a US value holds.
	maxSide = 0xFFFF
)

// Defaults for fields a Request leaves empty.
const (
	DefaultIssuerOfPatientID       = "NHS"
	DefaultIssuerOfAccessionNumber = "MOLAR"
	DefaultModality                = "OT"
	DefaultConversionType          = "WSD"
)

// Errors a caller may want to tell apart. Every error Wrap returns wraps
// one of them, except errors from writing the output. An upload handler
// would answer ErrRequest with 400, ErrNotImage and ErrUnsupported with
// 415, ErrCorrupt with 422 and ErrTooLarge with 413.
var (
	// ErrRequest: a Request field is missing or not a valid DICOM value.
	ErrRequest = errors.New("invalid request")
	// ErrNotImage: the upload is empty or neither JPEG nor PNG.
	ErrNotImage = errors.New("not a JPEG or PNG image")
	// ErrCorrupt: the upload is a truncated or malformed JPEG or PNG.
	ErrCorrupt = errors.New("corrupt image")
	// ErrUnsupported: the upload may be valid, but of a kind this package
	// does not store (12-bit, lossless or arithmetic-coded JPEG, …).
	ErrUnsupported = errors.New("unsupported image")
	// ErrTooLarge: the upload or its pixels exceed MaxInputBytes,
	// MaxPixels or DICOM's 65535 rows or columns.
	ErrTooLarge = errors.New("image too large")
)

// Patient identifies the referral's patient.
type Patient struct {
	Name       string // DICOM PN, "FAMILY^GIVEN"
	ID         string // the NHS number
	IssuerOfID string // "" is DefaultIssuerOfPatientID
	BirthDate  string // YYYYMMDD, or "" if unknown
	Sex        string // M, F, O, or "" if unknown
}

// Request is what Wrap writes besides the pixels. Text is UTF-8; any
// character outside ASCII makes the instance declare ISO_IR 192.
type Request struct {
	Patient Patient
	// AccessionNumber is the referral URN (at most 16 characters). It
	// is required: it is what joins the film to its referral.
	AccessionNumber string
	// IssuerOfAccessionNumber is the local namespace the URN belongs to,
	// written in Issuer of Accession Number Sequence. "" is
	// DefaultIssuerOfAccessionNumber.
	IssuerOfAccessionNumber string

	// StudyInstanceUID "" is StudyUID(issuer, accession number), so every
	// upload for one referral lands in one study. Series and SOP Instance
	// UIDs "" are fresh UUID-derived (2.25) UIDs.
	StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID string
	// StudyDate and StudyTime are the study's, when it already has them:
	// every instance of a study must carry the same. StudyDate "" is
	// ExposureDate.
	StudyDate, StudyTime string

	// ExposureDate (YYYYMMDD) is when the radiograph or photograph was
	// taken: Content, Acquisition and Series Date. "" is unknown. A date
	// after the day Now falls on is refused as a typing slip.
	ExposureDate string
	// Description, e.g. "Periapical LR6", one line, becomes Image
	// Comments, and its first 64 characters Series Description.
	Description string
	// Modality of the original image; "" is DefaultModality. See the
	// package documentation.
	Modality string
	// Laterality is the Image Laterality: "R" or "L" for one side of the
	// mouth, "B" for both (a panoramic), "U" for an unpaired structure, ""
	// if unknown (then the series' Laterality is written empty, which
	// dciodvfy warns of).
	Laterality string
	// ConversionType (PS3.3 C.8.6.1): "" is DefaultConversionType, WSD.
	ConversionType string
	// BurnedInAnnotation: "YES", "NO", or "" when unknown (not written).
	BurnedInAnnotation string

	InstitutionName        string
	ReferringPhysicianName string // DICOM PN
	OperatorName           string // DICOM PN: who uploaded the image

	// SeriesNumber and InstanceNumber: 0 is 1.
	SeriesNumber, InstanceNumber int

	// Now is when the capture happens: Instance Creation and Date and Time
	// of Secondary Capture, in Now's time zone. Zero is time.Now().
	Now time.Time
}

// Result describes the instance Wrap wrote.
type Result struct {
	SOPInstanceUID, SeriesInstanceUID, StudyInstanceUID string
	TransferSyntax                                      string // UID
	Rows, Columns                                       int
	Photometric                                         string
	Size                                                int64 // bytes written
}

// StudyUID returns the Study Instance UID that Wrap derives for a referral
// when the request gives none: a name-based UID, the same for every
// upload with this issuer and accession number. Code offering the
// referral in a worklist should offer the same UID.
func StudyUID(issuerOfAccessionNumber, accessionNumber string) string {
	return dcm.NameUID("referral-study/" + issuerOfAccessionNumber + "/" + accessionNumber)
}

// Wrap reads a JPEG or PNG image from img and writes it to w as a DICOM
// Part 10 Secondary Capture instance. contentType is the upload's declared
// media type: it may be "", application/octet-stream, or a JPEG or PNG
// type; the bytes decide which of the two the image is, since browsers
// guess the type from the file name.
//
// Everything is checked before the first byte is written, so on an error
// other than a write error nothing has been written.
func Wrap(w io.Writer, img io.Reader, contentType string, req Request) (Result, error) {
	if err := checkContentType(contentType); err != nil {
		return Result{}, err
	}
	if err := req.normalise(); err != nil {
		return Result{}, err
	}
	data, err := io.ReadAll(io.LimitReader(img, MaxInputBytes+1))
	if err != nil {
		return Result{}, fmt.Errorf("sc: reading the upload: %w", err)
	}
	if len(data) > MaxInputBytes {
		return Result{}, fmt.Errorf("sc: %w: upload of more than %d bytes", ErrTooLarge, MaxInputBytes)
	}
	px, err := readPixels(data)
	if err != nil {
		return Result{}, fmt.Errorf("sc: %w", err)
	}
	attrs, err := req.attrs(px)
	if err != nil {
		return Result{}, fmt.Errorf("sc: %w", err)
	}
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{
		SOPClassUID: SOPClassUID, SOPInstanceUID: req.SOPInstanceUID, TransferSyntax: px.ts,
	})
	if err != nil {
		return Result{}, fmt.Errorf("sc: %w", err)
	}
	ts, _ := dcm.LookupTransferSyntax(px.ts)
	head, err := dcm.AppendAttrs(meta, attrs, ts)
	if err != nil {
		return Result{}, fmt.Errorf("sc: %w: %v", ErrRequest, err)
	}
	res := Result{
		SOPInstanceUID: req.SOPInstanceUID, SeriesInstanceUID: req.SeriesInstanceUID,
		StudyInstanceUID: req.StudyInstanceUID, TransferSyntax: px.ts,
		Rows: px.rows, Columns: px.cols, Photometric: px.photometric,
	}
	cw := &countingWriter{w: w}
	err = writePixelData(cw, head, px)
	res.Size = cw.n
	if err != nil {
		return res, fmt.Errorf("sc: writing the instance: %w", err)
	}
	return res, nil
}

// checkContentType accepts the media types a browser may give a JPEG or
// PNG file, or none.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("sc: %w: content type %q: %v", ErrNotImage, ct, err)
	}
	switch mt {
	case "application/octet-stream", "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/x-png":
		return nil
	}
	return fmt.Errorf("sc: %w: content type %s", ErrNotImage, mt)
}

// pixels is an image ready to be written as Pixel Data.
type pixels struct {
	ts           string // transfer syntax UID
	rows, cols   int
	samples      int
	photometric  string
	bits         int  // allocated and stored
	encapsulated bool // data is one JPEG frame
	data         []byte
	lossy        bool
	ratio        float64 // lossy compression ratio, 0 if unknown
	derivation   string
}

// readPixels identifies, checks and, unless it is a baseline JPEG,
// decodes the upload.
func readPixels(data []byte) (*pixels, error) {
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("%w: the upload is empty", ErrNotImage)
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return readJPEG(data)
	case bytes.HasPrefix(data, []byte(pngSignature)):
		return readPNG(data)
	}
	return nil, fmt.Errorf("%w: the upload starts with % X", ErrNotImage, data[:min(len(data), 8)])
}

func readJPEG(data []byte) (*pixels, error) {
	info, err := parseJPEG(data)
	if err != nil {
		return nil, err
	}
	if err := info.decodable(); err != nil {
		return nil, err
	}
	if err := checkSize(info.width, info.height); err != nil {
		return nil, err
	}
	data = data[:info.end] // what follows EOI is not part of the image
	if int64(len(data))*jpegPixelsPerByte < int64(info.width)*int64(info.height) {
		return nil, fmt.Errorf("%w: JPEG of %d bytes cannot hold the %d×%d pixels it declares", ErrCorrupt, len(data), info.width, info.height)
	}
	img, err := decodeJPEG(data)
	if err != nil {
		return nil, err
	}
	// The ratio of the practice's compression, of 8-bit samples.
	ratio := float64(info.width*info.height*len(info.comps)) / float64(len(data))
	if info.encapsulable() {
		pi := info.photometric()
		if err := checkDecoded(img, &info, pi); err != nil {
			return nil, err
		}
		return &pixels{
			ts: dcm.JPEGBaseline8Bit, rows: info.height, cols: info.width,
			samples: len(info.comps), photometric: pi, bits: 8,
			encapsulated: true, data: data, lossy: true, ratio: ratio,
			derivation: "Uploaded baseline JPEG, encapsulated unchanged",
		}, nil
	}
	n := toNative(img)
	return &pixels{
		ts: dcm.ExplicitVRLittleEndian, rows: info.height, cols: info.width,
		samples: n.samples, photometric: n.photometric, bits: n.bits,
		data: n.data, lossy: true, ratio: ratio,
		derivation: fmt.Sprintf("Uploaded %s JPEG, decoded", sofNames[info.sof]),
	}, nil
}

func readPNG(data []byte) (*pixels, error) {
	h, err := parsePNGHeader(data)
	if err != nil {
		return nil, err
	}
	img, err := decodePNG(data)
	if err != nil {
		return nil, err
	}
	n := toNative(img)
	return &pixels{
		ts: dcm.ExplicitVRLittleEndian, rows: h.height, cols: h.width,
		samples: n.samples, photometric: n.photometric, bits: n.bits, data: n.data,
		derivation: "Uploaded PNG, decoded",
	}, nil
}

// checkSize refuses images DICOM cannot describe or that exceed MaxPixels.
func checkSize(w, h int) error {
	switch {
	case w > maxSide || h > maxSide:
		return fmt.Errorf("%w: %d×%d pixels; DICOM allows at most %d rows and columns", ErrTooLarge, w, h, maxSide)
	case int64(w)*int64(h) > MaxPixels:
		return fmt.Errorf("%w: %d×%d pixels is more than the %d allowed", ErrTooLarge, w, h, MaxPixels)
	}
	return nil
}

// attrs returns the dataset without Pixel Data.
func (r *Request) attrs(px *pixels) (dcm.Attrs, error) {
	var a dcm.Attrs
	set := func(t dcm.Tag, vr dcm.VR, v ...string) { a.Set(t, vr, v...) }
	setIf := func(t dcm.Tag, vr dcm.VR, v string) {
		if v != "" {
			a.Set(t, vr, v)
		}
	}
	now := r.Now
	date, clock := now.Format("20060102"), now.Format("150405")

	// SOP Common
	set(dcm.SOPClassUID, dcm.UI, SOPClassUID)
	set(dcm.SOPInstanceUID, dcm.UI, r.SOPInstanceUID)
	set(tagInstanceCreationDate, dcm.DA, date)
	set(tagInstanceCreationTime, dcm.TM, clock)
	set(dcm.TimezoneOffsetFromUTC, dcm.SH, now.Format("-0700"))

	// Patient
	set(dcm.PatientName, dcm.PN, r.Patient.Name)
	set(dcm.PatientID, dcm.LO, r.Patient.ID)
	set(dcm.IssuerOfPatientID, dcm.LO, r.Patient.IssuerOfID)
	set(dcm.PatientBirthDate, dcm.DA, r.Patient.BirthDate)
	set(dcm.PatientSex, dcm.CS, r.Patient.Sex)

	// General Study
	set(dcm.StudyInstanceUID, dcm.UI, r.StudyInstanceUID)
	set(dcm.StudyDate, dcm.DA, r.StudyDate)
	set(dcm.StudyTime, dcm.TM, r.StudyTime)
	set(dcm.ReferringPhysicianName, dcm.PN, r.ReferringPhysicianName)
	set(dcm.StudyID, dcm.SH, r.AccessionNumber)
	set(dcm.AccessionNumber, dcm.SH, r.AccessionNumber)
	var issuer dcm.Attrs
	issuer.Set(tagLocalNamespaceEntityID, dcm.UT, r.IssuerOfAccessionNumber)
	a.SetSequence(dcm.IssuerOfAccessionNumberSequence, issuer)

	// General Series
	set(dcm.Modality, dcm.CS, r.Modality)
	set(dcm.SeriesInstanceUID, dcm.UI, r.SeriesInstanceUID)
	set(dcm.SeriesNumber, dcm.IS, strconv.Itoa(r.SeriesNumber))
	setIf(dcm.SeriesDate, dcm.DA, r.ExposureDate)
	if r.Laterality == "" {
		// Type 2C, required of a paired body part without Image
		// Laterality: the upload's body part is not known, so neither is
		// whether it is paired, and empty says "unknown".
		set(dcm.Laterality, dcm.CS)
	}
	setIf(dcm.SeriesDescription, dcm.LO, strings.TrimRight(truncateRunes(r.Description, 64), " "))
	setIf(tagOperatorsName, dcm.PN, r.OperatorName)

	// General Equipment, only to say where the image came from.
	if r.InstitutionName != "" {
		set(dcm.Manufacturer, dcm.LO, "")
		set(dcm.InstitutionName, dcm.LO, r.InstitutionName)
	}

	// SC Equipment
	set(tagConversionType, dcm.CS, r.ConversionType)
	set(tagSecondaryCaptureDeviceManufacturer, dcm.LO, "Molar")
	set(tagSecondaryCaptureDeviceManufacturerModelName, dcm.LO, "Molar browser upload")
	set(tagSecondaryCaptureDeviceSoftwareVersions, dcm.LO, dcm.MolarImplementationVersion)

	// General Image
	set(dcm.InstanceNumber, dcm.IS, strconv.Itoa(r.InstanceNumber))
	set(tagPatientOrientation, dcm.CS)
	setIf(dcm.ImageLaterality, dcm.CS, r.Laterality)
	setIf(dcm.ContentDate, dcm.DA, r.ExposureDate)
	setIf(dcm.AcquisitionDate, dcm.DA, r.ExposureDate)
	set(dcm.ImageType, dcm.CS, "DERIVED", "SECONDARY")
	setIf(tagImageComments, dcm.LT, r.Description)
	setIf(tagBurnedInAnnotation, dcm.CS, r.BurnedInAnnotation)
	set(tagDerivationDescription, dcm.ST, px.derivation)
	if px.lossy {
		set(tagLossyImageCompression, dcm.CS, "01")
		if px.ratio > 0 {
			set(tagLossyImageCompressionRatio, dcm.DS, strconv.FormatFloat(px.ratio, 'f', 2, 64))
		}
		set(tagLossyImageCompressionMethod, dcm.CS, "ISO_10918_1")
	} else {
		set(tagLossyImageCompression, dcm.CS, "00")
	}

	// Image Pixel
	set(dcm.SamplesPerPixel, dcm.US, strconv.Itoa(px.samples))
	set(dcm.PhotometricInterpretation, dcm.CS, px.photometric)
	if px.samples > 1 {
		set(tagPlanarConfiguration, dcm.US, "0")
	}
	set(dcm.Rows, dcm.US, strconv.Itoa(px.rows))
	set(dcm.Columns, dcm.US, strconv.Itoa(px.cols))
	set(dcm.BitsAllocated, dcm.US, strconv.Itoa(px.bits))
	set(dcm.BitsStored, dcm.US, strconv.Itoa(px.bits))
	set(tagHighBit, dcm.US, strconv.Itoa(px.bits-1))
	set(dcm.PixelRepresentation, dcm.US, "0")

	// SC Image
	set(tagDateOfSecondaryCapture, dcm.DA, date)
	set(tagTimeOfSecondaryCapture, dcm.TM, clock)

	if !dcm.EncodableIn(a, "") {
		set(dcm.SpecificCharacterSet, dcm.CS, "ISO_IR 192")
	}
	return a, nil
}

// writePixelData writes head (the file up to Pixel Data) and the Pixel
// Data element: native, or encapsulated as an empty Basic Offset Table and
// one fragment (PS3.5 A.4), each padded to even length.
func writePixelData(w io.Writer, head []byte, px *pixels) error {
	pad := len(px.data) % 2
	var tail []byte
	if px.encapsulated {
		head = appendHeader(head, dcm.PixelData, dcm.OB, dcm.UndefinedLength)
		head = appendItem(head, dcm.Item, 0)
		head = appendItem(head, dcm.Item, uint32(len(px.data)+pad))
		tail = make([]byte, pad, pad+8)
		tail = appendItem(tail, dcm.SequenceDelimitationItem, 0)
	} else {
		vr := dcm.OB
		if px.bits == 16 {
			vr = dcm.OW
		}
		head = appendHeader(head, dcm.PixelData, vr, uint32(len(px.data)+pad))
		tail = make([]byte, pad)
	}
	for _, b := range [][]byte{head, px.data, tail} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// appendHeader appends an explicit VR little endian header of a VR with a
// 32-bit length (PS3.5 7.1.2). dcm.AppendAttrs cannot write binary values,
// so Pixel Data is encoded here.
func appendHeader(dst []byte, t dcm.Tag, vr dcm.VR, length uint32) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	dst = append(dst, vr.String()...)
	dst = append(dst, 0, 0)
	return binary.LittleEndian.AppendUint32(dst, length)
}

// appendItem appends an item or delimiter tag and its length.
func appendItem(dst []byte, t dcm.Tag, length uint32) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	return binary.LittleEndian.AppendUint32(dst, length)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
