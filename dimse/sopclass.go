package dimse

import "github.com/molar-pacs/molar/internal/dcm"

// SOP classes of the services Molar offers (PS3.4).
const (
	VerificationSOPClass = "1.2.840.10008.1.1"

	PatientRootFind = "1.2.840.10008.5.1.4.1.2.1.1"
	PatientRootMove = "1.2.840.10008.5.1.4.1.2.1.2"
	PatientRootGet  = "1.2.840.10008.5.1.4.1.2.1.3"
	StudyRootFind   = "1.2.840.10008.5.1.4.1.2.2.1"
	StudyRootMove   = "1.2.840.10008.5.1.4.1.2.2.2"
	StudyRootGet    = "1.2.840.10008.5.1.4.1.2.2.3"
	WorklistFind    = "1.2.840.10008.5.1.4.31"
)

// service is what an abstract syntax is used for.
type service int

const (
	svcNone service = iota
	svcVerification
	svcStorage
	svcFind
	svcMove
	svcGet
	svcWorklist
)

func (s service) isQuery() bool {
	return s == svcFind || s == svcMove || s == svcGet || s == svcWorklist
}

var queryServices = map[string]service{
	VerificationSOPClass: svcVerification,
	PatientRootFind:      svcFind,
	StudyRootFind:        svcFind,
	PatientRootMove:      svcMove,
	StudyRootMove:        svcMove,
	PatientRootGet:       svcGet,
	StudyRootGet:         svcGet,
	WorklistFind:         svcWorklist,
}

// DefaultStorageSOPClasses are the storage SOP classes accepted unless the
// configuration says otherwise: the dental ones the issue names first, then
// the rest of PS3.4 Table B.5-1 a general-purpose archive is sent in
// practice, so a hospital PACS forwarding a whole study is not refused.
var DefaultStorageSOPClasses = []string{
	"1.2.840.10008.5.1.4.1.1.1.3",      // Digital Intra-Oral X-Ray, For Presentation
	"1.2.840.10008.5.1.4.1.1.1.3.1",    // Digital Intra-Oral X-Ray, For Processing
	"1.2.840.10008.5.1.4.1.1.1.1",      // Digital X-Ray, For Presentation (OPG)
	"1.2.840.10008.5.1.4.1.1.1.1.1",    // Digital X-Ray, For Processing
	"1.2.840.10008.5.1.4.1.1.1",        // Computed Radiography
	"1.2.840.10008.5.1.4.1.1.2",        // CT (CBCT)
	"1.2.840.10008.5.1.4.1.1.2.1",      // Enhanced CT
	"1.2.840.10008.5.1.4.1.1.2.2",      // Legacy Converted Enhanced CT
	"1.2.840.10008.5.1.4.1.1.13.1.2",   // X-Ray 3D Craniofacial
	"1.2.840.10008.5.1.4.1.1.7",        // Secondary Capture
	"1.2.840.10008.5.1.4.1.1.7.1",      // Multi-frame Single Bit SC
	"1.2.840.10008.5.1.4.1.1.7.2",      // Multi-frame Grayscale Byte SC
	"1.2.840.10008.5.1.4.1.1.7.3",      // Multi-frame Grayscale Word SC
	"1.2.840.10008.5.1.4.1.1.7.4",      // Multi-frame True Color SC
	"1.2.840.10008.5.1.4.1.1.77.1.4",   // VL Photographic
	"1.2.840.10008.5.1.4.1.1.77.1.1",   // VL Endoscopic
	"1.2.840.10008.5.1.4.1.1.77.1.2",   // VL Microscopic
	"1.2.840.10008.5.1.4.1.1.104.1",    // Encapsulated PDF
	"1.2.840.10008.5.1.4.1.1.104.2",    // Encapsulated CDA
	"1.2.840.10008.5.1.4.1.1.104.3",    // Encapsulated STL (intra-oral scans)
	"1.2.840.10008.5.1.4.1.1.104.4",    // Encapsulated OBJ
	"1.2.840.10008.5.1.4.1.1.104.5",    // Encapsulated MTL
	"1.2.840.10008.5.1.4.1.1.1.2",      // Digital Mammography, For Presentation
	"1.2.840.10008.5.1.4.1.1.1.2.1",    // Digital Mammography, For Processing
	"1.2.840.10008.5.1.4.1.1.3.1",      // Ultrasound Multi-frame
	"1.2.840.10008.5.1.4.1.1.6.1",      // Ultrasound
	"1.2.840.10008.5.1.4.1.1.4",        // MR
	"1.2.840.10008.5.1.4.1.1.4.1",      // Enhanced MR
	"1.2.840.10008.5.1.4.1.1.12.1",     // X-Ray Angiographic
	"1.2.840.10008.5.1.4.1.1.12.2",     // X-Ray Radiofluoroscopic
	"1.2.840.10008.5.1.4.1.1.20",       // Nuclear Medicine
	"1.2.840.10008.5.1.4.1.1.128",      // PET
	"1.2.840.10008.5.1.4.1.1.11.1",     // Grayscale Softcopy Presentation State
	"1.2.840.10008.5.1.4.1.1.11.2",     // Color Softcopy Presentation State
	"1.2.840.10008.5.1.4.1.1.66",       // Raw Data
	"1.2.840.10008.5.1.4.1.1.66.1",     // Spatial Registration
	"1.2.840.10008.5.1.4.1.1.66.4",     // Segmentation
	"1.2.840.10008.5.1.4.1.1.88.11",    // Basic Text SR
	"1.2.840.10008.5.1.4.1.1.88.22",    // Enhanced SR
	"1.2.840.10008.5.1.4.1.1.88.33",    // Comprehensive SR
	"1.2.840.10008.5.1.4.1.1.88.34",    // Comprehensive 3D SR
	"1.2.840.10008.5.1.4.1.1.88.59",    // Key Object Selection
	"1.2.840.10008.5.1.4.1.1.88.67",    // X-Ray Radiation Dose SR
	"1.2.840.10008.5.1.4.1.1.9.1.1",    // 12-lead ECG
	"1.2.840.10008.5.1.4.1.1.9.1.2",    // General ECG
	"1.2.840.10008.5.1.4.1.1.481.1",    // RT Image
	"1.2.840.10008.5.1.4.1.1.481.2",    // RT Dose
	"1.2.840.10008.5.1.4.1.1.481.3",    // RT Structure Set
	"1.2.840.10008.5.1.4.1.1.481.5",    // RT Plan
	"1.2.840.10008.5.1.4.1.1.481.8",    // RT Ion Plan
	"1.2.840.10008.5.1.4.1.1.77.1.5.1", // Ophthalmic Photography 8 Bit
}

// DefaultTransferSyntaxes are the transfer syntaxes accepted unless the
// configuration says otherwise, in the order Molar prefers them.
var DefaultTransferSyntaxes = []string{
	dcm.ExplicitVRLittleEndian,
	dcm.ImplicitVRLittleEndian,
	dcm.DeflatedExplicitVRLittleEndian,
	dcm.ExplicitVRBigEndian,
	dcm.JPEGBaseline8Bit,
	dcm.JPEGExtended12Bit,
	dcm.JPEGLossless,
	dcm.JPEGLosslessSV1,
	dcm.JPEGLSLossless,
	dcm.JPEGLSNearLossless,
	dcm.JPEG2000Lossless,
	dcm.JPEG2000,
	dcm.RLELossless,
}

// uncompressed reports a transfer syntax any DICOM implementation can read
// and Molar can convert to and from: the ones fit for queries and the
// fall-back of retrieves.
func uncompressed(ts string) bool {
	switch ts {
	case dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.DeflatedExplicitVRLittleEndian:
		return true
	}
	return false
}
