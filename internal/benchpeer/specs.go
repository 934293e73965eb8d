package benchpeer

import "github.com/molar-pacs/molar/internal/synth"

// Film sizes: 16-bit samples (12 stored), 2 bytes a pixel.
const (
	PanoramicSmallRows, PanoramicSmallCols = 1400, 2000 // 5.6 MB
	PanoramicLargeRows, PanoramicLargeCols = 1920, 2560 // 9.8 MB
	IntraOralRows, IntraOralCols           = 1448, 1448 // 4.2 MB
)

// Panoramic is a panoramic film (PX, DX For Presentation) of study and
// series.
func Panoramic(rows, cols, study, series int) Spec {
	return Spec{Rows: rows, Cols: cols, Modality: "PX", Class: synth.DXForPresentation, Study: study, Series: series}
}

// IntraOral is an intra-oral film (IO, Intra-oral For Presentation) of
// study and series.
func IntraOral(rows, cols, study, series int) Spec {
	return Spec{Rows: rows, Cols: cols, Modality: "IO", Class: synth.IntraOralForPresentation, Study: study, Series: series}
}

// FilmSpecs: 24 films, 129 MB, in 8 visits: a panoramic (alternately
// 2000x1400 and 2560x1920) and two 1448x1448 intra-orals in a series of
// their own. The C-STORE (dimsebench) and STOW-RS (webbench) benchmarks
// both send it, so the two protocols' figures compare.
func FilmSpecs() []Spec {
	var specs []Spec
	for v := range 8 {
		if v%2 == 0 {
			specs = append(specs, Panoramic(PanoramicSmallRows, PanoramicSmallCols, v, 2*v))
		} else {
			specs = append(specs, Panoramic(PanoramicLargeRows, PanoramicLargeCols, v, 2*v))
		}
		specs = append(specs, IntraOral(IntraOralRows, IntraOralCols, v, 2*v+1), IntraOral(IntraOralRows, IntraOralCols, v, 2*v+1))
	}
	return specs
}

// SmallSpecs: 500 instances of ≈10 kB (64x72 16-bit samples and a
// 0.8 kB header) in 50 studies of one series.
func SmallSpecs() []Spec {
	var specs []Spec
	for i := range 500 {
		specs = append(specs, IntraOral(64, 72, i/10, i/10))
	}
	return specs
}
