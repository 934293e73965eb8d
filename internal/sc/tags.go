package sc

import "github.com/molar-pacs/molar/internal/dcm"

// Attributes this package writes that dcm does not name.
const (
	tagInstanceCreationDate                        dcm.Tag = 0x00080012
	tagInstanceCreationTime                        dcm.Tag = 0x00080013
	tagConversionType                              dcm.Tag = 0x00080064
	tagOperatorsName                               dcm.Tag = 0x00081070
	tagDerivationDescription                       dcm.Tag = 0x00082111
	tagDateOfSecondaryCapture                      dcm.Tag = 0x00181012
	tagTimeOfSecondaryCapture                      dcm.Tag = 0x00181014
	tagSecondaryCaptureDeviceManufacturer          dcm.Tag = 0x00181016
	tagSecondaryCaptureDeviceManufacturerModelName dcm.Tag = 0x00181018
	tagSecondaryCaptureDeviceSoftwareVersions      dcm.Tag = 0x00181019
	tagPatientOrientation                          dcm.Tag = 0x00200020
	tagImageComments                               dcm.Tag = 0x00204000
	tagPlanarConfiguration                         dcm.Tag = 0x00280006
	tagHighBit                                     dcm.Tag = 0x00280102
	tagBurnedInAnnotation                          dcm.Tag = 0x00280301
	tagLossyImageCompression                       dcm.Tag = 0x00282110
	tagLossyImageCompressionRatio                  dcm.Tag = 0x00282112
	tagLossyImageCompressionMethod                 dcm.Tag = 0x00282114
	tagLocalNamespaceEntityID                      dcm.Tag = 0x00400031
)
