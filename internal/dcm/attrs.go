package dcm

import "sort"

// Attr is one attribute with its values as text (see Strings): the form the
// archive indexes, matches and returns query results in.
type Attr struct {
	Tag    Tag
	VR     VR
	Values []string
	// Items are the items of a sequence (VR SQ), each sorted by tag; Values
	// is then nil. Query keys and responses nest attributes this way (e.g.
	// Referenced Study Sequence), and AppendAttrs encodes them.
	Items []Attrs
}

// Attrs is a list of attributes sorted by tag.
type Attrs []Attr

// Get returns the attribute with tag t.
func (a Attrs) Get(t Tag) (Attr, bool) {
	i := sort.Search(len(a), func(i int) bool { return a[i].Tag >= t })
	if i < len(a) && a[i].Tag == t {
		return a[i], true
	}
	return Attr{}, false
}

// Values returns the values of tag t, or nil.
func (a Attrs) Values(t Tag) []string {
	at, _ := a.Get(t)
	return at.Values
}

// First returns the first value of tag t, or "".
func (a Attrs) First(t Tag) string {
	if v := a.Values(t); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set adds or replaces an attribute, keeping the list sorted.
func (a *Attrs) Set(t Tag, vr VR, values ...string) {
	s := *a
	i := sort.Search(len(s), func(i int) bool { return s[i].Tag >= t })
	if i < len(s) && s[i].Tag == t {
		s[i] = Attr{Tag: t, VR: vr, Values: values}
		return
	}
	s = append(s, Attr{})
	copy(s[i+1:], s[i:])
	s[i] = Attr{Tag: t, VR: vr, Values: values}
	*a = s
}

// SetSequence adds or replaces a sequence (VR SQ) with the given items.
func (a *Attrs) SetSequence(t Tag, items ...Attrs) {
	a.Set(t, SQ)
	i := sort.Search(len(*a), func(i int) bool { return (*a)[i].Tag >= t })
	(*a)[i].Items = items
}

// Merge returns the union of a and b; where both hold a tag, b wins.
func (a Attrs) Merge(b Attrs) Attrs {
	out := make(Attrs, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Tag < b[j].Tag):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Tag < a[i].Tag:
			out = append(out, b[j])
			j++
		default:
			out = append(out, b[j])
			i++
			j++
		}
	}
	return out
}
