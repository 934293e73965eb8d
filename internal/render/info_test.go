package render

import (
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// opg is the Image Pixel module of a 16-bit panoramic, which the cases
// below add to or replace.
func opg(extra ...element) *dcm.Dataset {
	base := map[dcm.Tag]element{}
	for _, e := range []element{
		us(dcm.SamplesPerPixel, 1),
		text(dcm.PhotometricInterpretation, dcm.CS, "MONOCHROME2 "),
		us(dcm.Rows, 1500),
		us(dcm.Columns, 3000),
		us(dcm.BitsAllocated, 16),
		us(dcm.BitsStored, 12),
		us(tagHighBit, 11),
		us(dcm.PixelRepresentation, 0),
	} {
		base[e.tag] = e
	}
	for _, e := range extra {
		if e.value == nil {
			delete(base, e.tag)
		} else {
			base[e.tag] = e
		}
	}
	var els []element
	for _, e := range base {
		els = append(els, e)
	}
	return dataset(els...)
}

// without removes tag from opg's dataset.
func without(t dcm.Tag) element { return element{tag: t} }

func TestInfoFrom(t *testing.T) {
	ts := syntax(dcm.ExplicitVRLittleEndian)
	want := mono(1500, 3000, 16, 12)

	got, err := InfoFrom(opg(), ts)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}

	got, err = InfoFrom(opg(
		text(tagRescaleSlope, dcm.DS, "0.5 "),
		text(tagRescaleIntercept, dcm.DS, "-1024"),
		text(tagWindowCenter, dcm.DS, `1200\400`),
		text(tagWindowWidth, dcm.DS, `2400.5\800`),
		text(tagVOILUTFunction, dcm.CS, "SIGMOID "),
		text(dcm.NumberOfFrames, dcm.IS, "3 "),
		us(dcm.PixelRepresentation, 1),
		without(tagHighBit),
	), ts)
	if err != nil {
		t.Fatal(err)
	}
	want.RescaleSlope, want.RescaleIntercept = 0.5, -1024
	want.Window = Window{Center: 1200, Width: 2400.5}
	want.VOIFunction = Sigmoid
	want.NumberOfFrames = 3
	want.PixelRepresentation = 1
	if got != want {
		t.Errorf("all attributes:\n got %+v\nwant %+v", got, want)
	}

	// A window needs both values.
	got, err = InfoFrom(opg(text(tagWindowCenter, dcm.DS, "100")), ts)
	if err != nil || !got.Window.IsZero() {
		t.Errorf("center without width: window %+v, error %v; want none", got.Window, err)
	}
}

func TestInfoFromErrors(t *testing.T) {
	ts := syntax(dcm.ExplicitVRLittleEndian)
	for _, tc := range []struct {
		name string
		ds   *dcm.Dataset
		want error
	}{
		{"no rows", opg(without(dcm.Rows)), ErrInvalid},
		{"no columns", opg(without(dcm.Columns)), ErrInvalid},
		{"no bits allocated", opg(without(dcm.BitsAllocated)), ErrInvalid},
		{"no bits stored", opg(without(dcm.BitsStored)), ErrInvalid},
		{"no photometric interpretation", opg(without(dcm.PhotometricInterpretation)), ErrInvalid},
		{"zero rows", opg(us(dcm.Rows, 0)), ErrInvalid},
		{"bits stored above allocated", opg(us(dcm.BitsStored, 17)), ErrInvalid},
		{"high bit below bits stored", opg(us(tagHighBit, 7)), ErrInvalid},
		{"high bit outside the sample", opg(us(tagHighBit, 16)), ErrInvalid},
		{"12 bits allocated", opg(us(dcm.BitsAllocated, 12)), ErrInvalid},
		{"pixel representation 2", opg(us(dcm.PixelRepresentation, 2)), ErrInvalid},
		{"monochrome with 3 samples", opg(us(dcm.SamplesPerPixel, 3)), ErrInvalid},
		{"RGB with 1 sample", opg(text(dcm.PhotometricInterpretation, dcm.CS, "RGB")), ErrInvalid},
		{"planar configuration 2", opg(us(tagPlanarConfiguration, 2)), ErrInvalid},
		{"slope not a number", opg(text(tagRescaleSlope, dcm.DS, "one")), ErrInvalid},
		{"slope zero", opg(text(tagRescaleSlope, dcm.DS, "0")), ErrInvalid},
		{"intercept infinite", opg(text(tagRescaleIntercept, dcm.DS, "1e999")), ErrInvalid},
		{"window center not a number", opg(text(tagWindowCenter, dcm.DS, "NaN"), text(tagWindowWidth, dcm.DS, "10")), ErrInvalid},
		{"frames zero", opg(text(dcm.NumberOfFrames, dcm.IS, "0")), ErrInvalid},
		{"palette colour", opg(text(dcm.PhotometricInterpretation, dcm.CS, "PALETTE COLOR")), ErrUnsupported},
		{"unknown photometric", opg(text(dcm.PhotometricInterpretation, dcm.CS, "HSV")), ErrUnsupported},
		{"32 bits allocated", opg(us(dcm.BitsAllocated, 32)), ErrUnsupported},
		{"1 bit allocated", opg(us(dcm.BitsAllocated, 1), us(dcm.BitsStored, 1), us(tagHighBit, 0)), ErrUnsupported},
		{"65535×65535 pixels", opg(us(dcm.Rows, 65535), us(dcm.Columns, 65535)), ErrUnsupported},
		{"unknown VOI function", opg(text(tagVOILUTFunction, dcm.CS, "CURVY")), ErrUnsupported},
		{"signed colour", opg(
			text(dcm.PhotometricInterpretation, dcm.CS, "RGB"), us(dcm.SamplesPerPixel, 3), us(dcm.PixelRepresentation, 1)), ErrUnsupported},
	} {
		_, err := InfoFrom(tc.ds, ts)
		wantErr(t, tc.name, err, tc.want)
	}
}
