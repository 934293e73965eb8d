package dcm

// Transfer syntax UIDs Molar names in code (PS3.5 Section 10 and Annex A).
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2"
	JPEGBaseline8Bit               = "1.2.840.10008.1.2.4.50"
	JPEGExtended12Bit              = "1.2.840.10008.1.2.4.51"
	JPEGLossless                   = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1                = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless                 = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless             = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless               = "1.2.840.10008.1.2.4.90"
	JPEG2000                       = "1.2.840.10008.1.2.4.91"
	RLELossless                    = "1.2.840.10008.1.2.5"
)

// TransferSyntax describes how a dataset is encoded.
type TransferSyntax struct {
	UID          string
	Name         string
	ImplicitVR   bool
	BigEndian    bool
	Deflated     bool
	Encapsulated bool   // pixel data in fragments
	MediaType    string // the media type of one frame in WADO-RS, when encapsulated
}

var transferSyntaxes = map[string]TransferSyntax{}

func init() {
	for _, ts := range []TransferSyntax{
		{UID: ImplicitVRLittleEndian, Name: "Implicit VR Little Endian", ImplicitVR: true},
		{UID: ExplicitVRLittleEndian, Name: "Explicit VR Little Endian"},
		{UID: DeflatedExplicitVRLittleEndian, Name: "Deflated Explicit VR Little Endian", Deflated: true},
		{UID: ExplicitVRBigEndian, Name: "Explicit VR Big Endian", BigEndian: true},
		{UID: JPEGBaseline8Bit, Name: "JPEG Baseline (Process 1)", Encapsulated: true, MediaType: "image/jpeg"},
		{UID: JPEGExtended12Bit, Name: "JPEG Extended (Process 2 & 4)", Encapsulated: true, MediaType: "image/jpeg"},
		{UID: JPEGLossless, Name: "JPEG Lossless, Non-Hierarchical (Process 14)", Encapsulated: true, MediaType: "image/jpeg"},
		{UID: JPEGLosslessSV1, Name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction", Encapsulated: true, MediaType: "image/jpeg"},
		{UID: JPEGLSLossless, Name: "JPEG-LS Lossless", Encapsulated: true, MediaType: "image/jls"},
		{UID: JPEGLSNearLossless, Name: "JPEG-LS Lossy (Near-Lossless)", Encapsulated: true, MediaType: "image/jls"},
		{UID: JPEG2000Lossless, Name: "JPEG 2000 (Lossless Only)", Encapsulated: true, MediaType: "image/jp2"},
		{UID: JPEG2000, Name: "JPEG 2000", Encapsulated: true, MediaType: "image/jp2"},
		{UID: RLELossless, Name: "RLE Lossless", Encapsulated: true, MediaType: "image/dicom-rle"},
		{UID: "1.2.840.10008.1.2.4.100", Name: "MPEG2 Main Profile / Main Level", Encapsulated: true, MediaType: "video/mpeg"},
		{UID: "1.2.840.10008.1.2.4.102", Name: "MPEG-4 AVC/H.264 High Profile", Encapsulated: true, MediaType: "video/mp4"},
		{UID: "1.2.840.10008.1.2.4.201", Name: "High-Throughput JPEG 2000 (Lossless Only)", Encapsulated: true, MediaType: "image/jphc"},
		{UID: "1.2.840.10008.1.2.4.203", Name: "High-Throughput JPEG 2000", Encapsulated: true, MediaType: "image/jphc"},
	} {
		transferSyntaxes[ts.UID] = ts
	}
}

// LookupTransferSyntax returns the transfer syntax with the given UID. Unknown
// UIDs are assumed to be explicit VR little endian with encapsulated pixel
// data, as PS3.5 requires of every transfer syntax it may add later.
func LookupTransferSyntax(uid string) (TransferSyntax, bool) {
	ts, ok := transferSyntaxes[uid]
	if !ok {
		return TransferSyntax{UID: uid, Name: "Unknown (" + uid + ")", Encapsulated: true, MediaType: "application/octet-stream"}, false
	}
	return ts, true
}
