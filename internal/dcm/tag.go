package dcm

import (
	"fmt"
	"strconv"

	dicomtag "github.com/suyashkumar/dicom/pkg/tag"
)

// Tag is a DICOM attribute tag, group in the high 16 bits.
type Tag uint32

// NewTag builds a tag from its group and element numbers.
func NewTag(group, element uint16) Tag { return Tag(uint32(group)<<16 | uint32(element)) }

// Group returns the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// IsPrivate reports whether the tag belongs to an odd (private) group.
func (t Tag) IsPrivate() bool { return t.Group()%2 == 1 }

// IsGroupLength reports whether the tag is a (gggg,0000) group length.
func (t Tag) IsGroupLength() bool { return t.Element() == 0 }

// String formats the tag as (GGGG,EEEE).
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.Group(), t.Element()) }

// Hex formats the tag as the eight upper-case hex digits DICOM JSON uses as keys.
func (t Tag) Hex() string { return string(appendHex8(make([]byte, 0, 8), uint32(t))) }

// ParseTag accepts "GGGGEEEE", "(GGGG,EEEE)", "GGGG,EEEE" or a dictionary keyword.
func ParseTag(s string) (Tag, error) {
	clean := make([]byte, 0, 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', ')', ',', ' ':
		default:
			clean = append(clean, c)
		}
	}
	if len(clean) == 8 {
		if v, err := strconv.ParseUint(string(clean), 16, 32); err == nil {
			return Tag(v), nil
		}
	}
	if info, err := dicomtag.FindByKeyword(s); err == nil {
		return NewTag(info.Tag.Group, info.Tag.Element), nil
	}
	return 0, fmt.Errorf("unknown attribute %q", s)
}

// Keyword returns the dictionary keyword of the tag, or "" if it has none.
func (t Tag) Keyword() string {
	info, err := dicomtag.Find(dicomtag.Tag{Group: t.Group(), Element: t.Element()})
	if err != nil {
		return ""
	}
	return info.Keyword
}

// DictionaryVR returns the VR the data dictionary gives the tag, as used for
// implicit VR transfer syntaxes. Unknown and private tags are UN, except the
// private creator elements (gggg,0010-00FF), which are LO.
func DictionaryVR(t Tag) VR {
	switch {
	case t.IsGroupLength():
		return UL
	case t.IsPrivate() && t.Element() >= 0x0010 && t.Element() <= 0x00FF:
		return LO
	case t == PixelData:
		return OW
	case t.Group() >= 0x6000 && t.Group() <= 0x60FF && t.Group()%2 == 0:
		// Overlay groups repeat; the dictionary lists only 6000.
		t = NewTag(0x6000, t.Element())
	}
	info, err := dicomtag.Find(dicomtag.Tag{Group: t.Group(), Element: t.Element()})
	if err != nil || len(info.VRs) == 0 {
		return UN
	}
	vr, ok := ParseVR(info.VRs[0])
	if !ok {
		return UN
	}
	return vr
}

// Tags Molar reads by name. Keep this list to what the code uses.
const (
	FileMetaInformationGroupLength Tag = 0x00020000
	MediaStorageSOPClassUID        Tag = 0x00020002
	MediaStorageSOPInstanceUID     Tag = 0x00020003
	TransferSyntaxUID              Tag = 0x00020010
	ImplementationClassUID         Tag = 0x00020012
	ImplementationVersionName      Tag = 0x00020013
	SourceApplicationEntityTitle   Tag = 0x00020016

	SpecificCharacterSet            Tag = 0x00080005
	ImageType                       Tag = 0x00080008
	SOPClassUID                     Tag = 0x00080016
	SOPInstanceUID                  Tag = 0x00080018
	StudyDate                       Tag = 0x00080020
	SeriesDate                      Tag = 0x00080021
	AcquisitionDate                 Tag = 0x00080022
	ContentDate                     Tag = 0x00080023
	StudyTime                       Tag = 0x00080030
	SeriesTime                      Tag = 0x00080031
	AcquisitionTime                 Tag = 0x00080032
	ContentTime                     Tag = 0x00080033
	AccessionNumber                 Tag = 0x00080050
	IssuerOfAccessionNumberSequence Tag = 0x00080051
	QueryRetrieveLevel              Tag = 0x00080052
	RetrieveAETitle                 Tag = 0x00080054
	InstanceAvailability            Tag = 0x00080056
	Modality                        Tag = 0x00080060
	ModalitiesInStudy               Tag = 0x00080061
	SOPClassesInStudy               Tag = 0x00080062
	Manufacturer                    Tag = 0x00080070
	InstitutionName                 Tag = 0x00080080
	ReferringPhysicianName          Tag = 0x00080090
	TimezoneOffsetFromUTC           Tag = 0x00080201
	StudyDescription                Tag = 0x00081030
	SeriesDescription               Tag = 0x0008103E
	ManufacturerModelName           Tag = 0x00081090
	RetrieveURL                     Tag = 0x00081190
	AvailableTransferSyntaxUID      Tag = 0x00083002

	PatientName                     Tag = 0x00100010
	PatientID                       Tag = 0x00100020
	IssuerOfPatientID               Tag = 0x00100021
	PatientBirthDate                Tag = 0x00100030
	PatientBirthTime                Tag = 0x00100032
	PatientSex                      Tag = 0x00100040
	OtherPatientIDs                 Tag = 0x00101000
	PatientAge                      Tag = 0x00101010
	PatientSize                     Tag = 0x00101020
	PatientWeight                   Tag = 0x00101030
	PatientComments                 Tag = 0x00104000
	NumberOfPatientRelatedStudies   Tag = 0x00201200
	NumberOfPatientRelatedSeries    Tag = 0x00201202
	NumberOfPatientRelatedInstances Tag = 0x00201204

	BodyPartExamined   Tag = 0x00180015
	ProtocolName       Tag = 0x00181030
	ImagerPixelSpacing Tag = 0x00181164

	DerivationDescription  Tag = 0x00082111
	PresentationIntentType Tag = 0x00080068
	ImageComments          Tag = 0x00204000

	StudyInstanceUID               Tag = 0x0020000D
	SeriesInstanceUID              Tag = 0x0020000E
	StudyID                        Tag = 0x00200010
	SeriesNumber                   Tag = 0x00200011
	InstanceNumber                 Tag = 0x00200013
	Laterality                     Tag = 0x00200060
	ImageLaterality                Tag = 0x00200062
	NumberOfStudyRelatedSeries     Tag = 0x00201206
	NumberOfStudyRelatedInstances  Tag = 0x00201208
	NumberOfSeriesRelatedInstances Tag = 0x00201209

	SamplesPerPixel           Tag = 0x00280002
	PhotometricInterpretation Tag = 0x00280004
	NumberOfFrames            Tag = 0x00280008
	Rows                      Tag = 0x00280010
	Columns                   Tag = 0x00280011
	BitsAllocated             Tag = 0x00280100
	BitsStored                Tag = 0x00280101
	PixelRepresentation       Tag = 0x00280103
	PixelSpacing              Tag = 0x00280030
	WindowCenter              Tag = 0x00281050
	WindowWidth               Tag = 0x00281051

	PerformedProcedureStepStartDate Tag = 0x00400244
	PerformedProcedureStepStartTime Tag = 0x00400245

	ExtendedOffsetTable        Tag = 0x7FE00001
	ExtendedOffsetTableLengths Tag = 0x7FE00002
	FloatPixelData             Tag = 0x7FE00008
	DoubleFloatPixelData       Tag = 0x7FE00009
	PixelData                  Tag = 0x7FE00010

	Item                     Tag = 0xFFFEE000
	ItemDelimitationItem     Tag = 0xFFFEE00D
	SequenceDelimitationItem Tag = 0xFFFEE0DD
)
