package dimse

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"github.com/molar-pacs/molar/internal/charset"
	"github.com/molar-pacs/molar/internal/dcm"
)

// identifier is a query or retrieve identifier as requested.
type identifier struct {
	level   string
	charset []string // Specific Character Set of the request
	keys    dcm.Attrs
}

// readIdentifier parses an identifier encoded in ts into text attributes.
func readIdentifier(r io.Reader, ts dcm.TransferSyntax) (*identifier, error) {
	ds, _, err := dcm.ParseDataset(r, ts, 0, dcm.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("read identifier: %w", err)
	}
	cs, err := ds.CharacterSet(nil)
	if err != nil {
		return nil, fmt.Errorf("identifier: Specific Character Set: %w", err)
	}
	id := &identifier{}
	for _, a := range datasetAttrs(ds, cs) {
		switch a.Tag {
		case dcm.QueryRetrieveLevel:
			if len(a.Values) > 0 {
				id.level = a.Values[0]
			}
		case dcm.SpecificCharacterSet:
			id.charset = a.Values
		default:
			id.keys = append(id.keys, a)
		}
	}
	return id, nil
}

// datasetAttrs turns a parsed data set into text attributes, sequences
// included, leaving out command, file meta and group length elements.
func datasetAttrs(ds *dcm.Dataset, cs *charset.Set) dcm.Attrs {
	bo := ds.ByteOrder()
	out := make(dcm.Attrs, 0, len(ds.Elements))
	for _, e := range ds.Elements {
		if e.Tag.Group() <= 2 || e.Tag.IsGroupLength() {
			continue
		}
		a := dcm.Attr{Tag: e.Tag, VR: e.VR}
		if e.VR == dcm.SQ {
			a.Items = make([]dcm.Attrs, 0, len(e.Items))
			for _, item := range e.Items {
				ics, err := item.CharacterSet(cs)
				if err != nil {
					ics = cs
				}
				a.Items = append(a.Items, datasetAttrs(item, ics))
			}
		} else {
			a.Values = dcm.Strings(e, bo, cs)
		}
		out = append(out, a)
	}
	return out
}

// encodeIdentifier encodes attrs in ts, choosing a Specific Character Set
// that can hold their text: the requester's if it can, else UTF-8.
func encodeIdentifier(attrs dcm.Attrs, ts dcm.TransferSyntax, requested []string) ([]byte, error) {
	switch {
	case !asciiAttrs(attrs):
		cs := "ISO_IR 192"
		if len(requested) == 1 && requested[0] != "" && dcm.EncodableIn(attrs, requested[0]) {
			cs = requested[0]
		}
		attrs.Set(dcm.SpecificCharacterSet, dcm.CS, cs)
	case len(requested) > 0:
		attrs.Set(dcm.SpecificCharacterSet, dcm.CS, requested...)
	}
	b, err := dcm.AppendAttrs(nil, attrs, ts)
	if err != nil {
		return nil, err
	}
	if !ts.Deflated {
		return b, nil
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	fw.Write(b)
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func asciiAttrs(attrs dcm.Attrs) bool {
	for _, a := range attrs {
		for _, v := range a.Values {
			for i := 0; i < len(v); i++ {
				if v[i] >= 0x80 {
					return false
				}
			}
		}
		for _, item := range a.Items {
			if !asciiAttrs(item) {
				return false
			}
		}
	}
	return true
}

// joinValues turns multiple values back into one matching-key value.
func joinValues(v []string) string { return strings.Join(v, `\`) }
