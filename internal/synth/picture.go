package synth

import (
	"encoding/binary"
	"math"
)

// Picture is what a synthetic film shows.
type Picture int

const (
	// Stripes are bands with noise: cheap, for tests and benchmarks.
	Stripes Picture = iota
	// Periapical is a portrait intraoral film of three lower teeth in
	// bone, one of them restored: enough for a demo viewer to look like
	// a dental radiograph and for a measurement to mean something.
	Periapical
	// Panoramic is a landscape OPG: both arches, the mandible and rami.
	Panoramic
)

func (p Picture) pixels(rows, cols, bits int, seed int64) []byte {
	switch p {
	case Periapical:
		return quantise(periapical(rows, cols), rows, cols, bits, seed)
	case Panoramic:
		return quantise(panoramic(rows, cols), rows, cols, bits, seed)
	}
	return Pixels(rows, cols, bits, seed)
}

// Radiodensities, 0 (air) to 1 (metal), as a film shows them.
const (
	airDensity     = 0.06
	softDensity    = 0.18
	boneDensity    = 0.38
	dentineDensity = 0.66
	enamelDensity  = 0.86
	pulpDensity    = 0.30
	metalDensity   = 0.98
)

// tooth is one tooth drawn from its occlusal surface towards its apex.
type tooth struct {
	cx, occlusal float64 // centre line and the occlusal surface's y
	dir          float64 // +1: roots below the crown (lower teeth); -1: above
	halfWidth    float64
	crown, root  float64 // lengths along the tooth
	roots        int     // 1 or 2
	filled       bool    // an amalgam restoration in the crown
}

// density is the tooth's radiodensity at (x, y), or -1 outside it.
func (t tooth) density(x, y float64) float64 {
	v := (y - t.occlusal) * t.dir // distance along the tooth from the occlusal surface
	u := x - t.cx
	if v < 0 || v > t.crown+t.root {
		return -1
	}
	if v <= t.crown {
		// The crown is a superellipse; its outer band is enamel.
		cu, cv := u/t.halfWidth, (v-t.crown/2)/(t.crown/2)
		cu, cv = cu*cu, cv*cv
		e := cu*cu + cv*cv
		if v > t.crown/2 {
			e = cu * cu // the crown joins the root full width
		}
		if e > 1 {
			return -1
		}
		if t.filled && math.Abs(u) < t.halfWidth*0.45 && v < t.crown*0.45 {
			return metalDensity
		}
		pu, pv := u/(t.halfWidth*0.38), (v-t.crown*0.85)/(t.crown*0.3)
		if pu*pu+pv*pv < 1 {
			return pulpDensity
		}
		if e > 0.45 && v < t.crown*0.7 {
			return enamelDensity
		}
		return dentineDensity
	}
	// Roots taper to the apex; two roots part a quarter of the way down.
	f := (v - t.crown) / t.root
	w := t.halfWidth * (0.85 - 0.6*f)
	d, rw := math.Abs(u), w
	if t.roots == 2 && f > 0.2 {
		// Each point belongs to the nearer of the two roots.
		spread := t.halfWidth * (0.3 + 0.25*math.Min(1, (f-0.2)*3))
		d, rw = math.Abs(math.Abs(u)-spread), w*0.5
	}
	switch {
	case d < rw*0.18:
		return pulpDensity // the canal
	case d < rw:
		return dentineDensity
	case d < rw+3:
		return softDensity // the periodontal ligament space
	case d < rw+6:
		return boneDensity + 0.12 // lamina dura
	}
	return -1
}

// paint draws the tooth into the picture over whatever is there.
func (t tooth) paint(img []float32, rows, cols int) {
	x0, x1 := int(t.cx-t.halfWidth-8), int(t.cx+t.halfWidth+8)
	ya, yb := t.occlusal, t.occlusal+t.dir*(t.crown+t.root)
	y0, y1 := int(math.Min(ya, yb))-1, int(math.Max(ya, yb))+1
	for y := max(y0, 0); y < min(y1, rows); y++ {
		for x := max(x0, 0); x < min(x1, cols); x++ {
			if d := t.density(float64(x), float64(y)); d >= 0 {
				i := y*cols + x
				img[i] = max(img[i], float32(d))
			}
		}
	}
}

// texture is the bone's trabecular pattern: crossed waves on a tile
// whose frequencies are whole turns, so that it repeats without seams and
// costs a lookup per pixel rather than four sines.
type texture [tileSize * tileSize]float32

const tileSize = 256

func newTexture() *texture {
	var t texture
	turn := 2 * math.Pi / tileSize
	for y := range tileSize {
		for x := range tileSize {
			fx, fy := float64(x), float64(y)
			t[y*tileSize+x] = float32(0.04 * math.Sin(3*turn*fx+2*math.Sin(2*turn*fy)) * math.Cos(4*turn*fy+3*math.Sin(turn*fx)))
		}
	}
	return &t
}

func (t *texture) at(x, y int) float64 { return float64(t[(y%tileSize)*tileSize+x%tileSize]) }

func periapical(rows, cols int) []float32 {
	img := make([]float32, rows*cols)
	bone := newTexture()
	w, h := float64(cols), float64(rows)
	occlusal := h * 0.16
	for y := range rows {
		for x := range cols {
			d := airDensity
			if fy := float64(y); fy > occlusal+h*0.18 { // the alveolar crest
				d = boneDensity + bone.at(x, y)
			} else if fy > occlusal {
				d = softDensity
			}
			img[y*cols+x] = float32(d)
		}
	}
	hw := w / 7.5
	for i, cx := range []float64{w * 0.19, w * 0.5, w * 0.81} {
		tooth{cx: cx, occlusal: occlusal + float64(i%2)*h*0.015, dir: 1, halfWidth: hw, crown: h * 0.26, root: h * 0.5,
			roots: 1 + i%2, filled: i == 1}.paint(img, rows, cols)
	}
	return img
}

func panoramic(rows, cols int) []float32 {
	img := make([]float32, rows*cols)
	bone := newTexture()
	w, h := float64(cols), float64(rows)
	cx := w / 2
	// The occlusal plane smiles: lower in the middle than at the molars.
	plane := func(x float64) float64 {
		d := (x - cx) / (w * 0.3)
		return h * (0.53 - 0.07*d*d)
	}
	// What depends on the column only, worked out once per column.
	type column struct{ air, plane, dx, lowerBorder, upperLimit float64 }
	colv := make([]column, cols)
	for x := range cols {
		fx := float64(x)
		dx := (fx - cx) / (w * 0.42)
		colv[x] = column{air: airDensity + 0.05*math.Exp(-math.Pow((fx-cx)/(w*0.35), 2)), plane: plane(fx), dx: math.Abs(dx),
			lowerBorder: h * (0.93 - 0.12*dx*dx), upperLimit: h * (0.22 + 0.1*dx*dx)}
	}
	for y := range rows {
		fy := float64(y)
		for x := range cols {
			c := &colv[x]
			d := c.air
			switch {
			case c.dx <= 1 && fy > c.plane && fy < c.lowerBorder:
				d = boneDensity + bone.at(x, y) // mandible
				if fy > c.lowerBorder-h*0.035 {
					d += 0.15 // its cortex
				}
			case c.dx <= 0.95 && fy < c.plane && fy > c.upperLimit:
				d = boneDensity - 0.05 + bone.at(x, y) // maxilla
			case c.dx > 0.9 && c.dx < 1.12 && fy > h*0.12 && fy < c.lowerBorder:
				d = boneDensity + 0.05 // the rami
			}
			img[y*cols+x] = float32(d)
		}
	}
	// Sixteen teeth in each arch, molars wider than incisors.
	gap := h * 0.012
	for arch, dir := range []float64{-1, 1} {
		x := w * 0.2
		for i := range 16 {
			fromMid := math.Abs(float64(i) - 7.5)
			hw := w * (0.0105 + 0.0015*math.Min(fromMid, 6))
			x += hw
			roots := 1
			if fromMid > 4.5 {
				roots = 2
			}
			crown := h * 0.11
			root := h * (0.16 + 0.02*float64(arch))
			if fromMid > 6.5 { // third molars sit lower in the bone
				root *= 0.8
			}
			tooth{cx: x, occlusal: plane(x) + dir*gap, dir: dir, halfWidth: hw * 0.92, crown: crown, root: root,
				roots: roots, filled: (i == 3 || i == 12) && arch == 1}.paint(img, rows, cols)
			x += hw
		}
	}
	return img
}

// quantise turns densities into stored values with quantum noise.
func quantise(img []float32, rows, cols, bits int, seed int64) []byte {
	out := make([]byte, rows*cols*2)
	maxV := float64(int(1)<<bits - 1)
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for i, d := range img {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := float64(d) + 0.03*(float64(x%1000)/1000-0.5)
		v = math.Max(0, math.Min(1, v))
		binary.LittleEndian.PutUint16(out[2*i:], uint16(v*maxV))
	}
	return out
}
