package dicomweb

import (
	"errors"
	"mime"
	"slices"
	"strconv"
	"strings"
)

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	mediaType string // lower case, e.g. "multipart/related", "*/*"
	// For multipart/related: the type parameter (the part's media type)
	// and the requested transfer syntax ("" when not given, "*" for any).
	partType       string
	transferSyntax string
	q              float64
}

// parseAccept reads an Accept header into media ranges, most preferred
// first (by q, then as written). An empty header accepts anything. Entries
// that do not parse are skipped, as RFC 9110 12.5.1 allows.
func parseAccept(header string) []mediaRange {
	if strings.TrimSpace(header) == "" {
		return []mediaRange{{mediaType: "*/*", q: 1}}
	}
	var out []mediaRange
	for _, entry := range splitAccept(header) {
		mt, params, err := mime.ParseMediaType(entry)
		if err != nil {
			// Clients (Cornerstone's WADO-RS loader among them) send
			// type=application/octet-stream unquoted, which RFC 9110
			// forbids ("/" is not a token character) but whose meaning is
			// plain; read such entries leniently.
			if mt, params, err = parseMediaTypeLenient(entry); err != nil {
				continue
			}
		}
		if strings.Count(mt, "/") != 1 {
			continue
		}
		r := mediaRange{mediaType: mt, q: 1}
		if q, ok := params["q"]; ok {
			v, err := strconv.ParseFloat(q, 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			r.q = v
		}
		if r.q == 0 {
			continue
		}
		r.partType = strings.ToLower(params["type"])
		r.transferSyntax = params["transfer-syntax"]
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b mediaRange) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	return out
}

// parseMediaTypeLenient reads "type/subtype; name=value; …" where values
// may be unquoted and hold "/" or "=".
func parseMediaTypeLenient(s string) (string, map[string]string, error) {
	fields := strings.Split(s, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	if strings.Count(mt, "/") != 1 || strings.ContainsAny(mt, " \t\"") {
		return "", nil, errors.New("bad media type")
	}
	params := map[string]string{}
	for _, f := range fields[1:] {
		name, value, ok := strings.Cut(f, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" {
			return "", nil, errors.New("bad parameter")
		}
		params[name] = strings.Trim(strings.TrimSpace(value), `"`)
	}
	return mt, params, nil
}

// splitAccept splits on commas outside quoted strings.
func splitAccept(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// matches reports whether the range accepts media type mt ("type/subtype").
func (r mediaRange) matches(mt string) bool {
	if r.mediaType == "*/*" || r.mediaType == mt {
		return true
	}
	major, _, _ := strings.Cut(mt, "/")
	return r.mediaType == major+"/*"
}

// acceptsPart reports whether the range accepts a multipart/related body
// whose parts are of media type part, and with which transfer syntax ("" if
// none was named). A bare */* or multipart/* accepts any part type.
func (r mediaRange) acceptsPart(part string) (ts string, ok bool) {
	switch {
	case r.mediaType == "*/*" || r.mediaType == "multipart/*":
		return r.transferSyntax, true
	case r.mediaType != "multipart/related":
		return "", false
	case r.partType == "" || r.partType == part:
		return r.transferSyntax, true
	}
	major, _, _ := strings.Cut(part, "/")
	if r.partType == major+"/*" || r.partType == "*/*" {
		return r.transferSyntax, true
	}
	return "", false
}

// acceptsSingle reports whether the range accepts a body of media type mt
// (not multipart).
func acceptsSingle(ranges []mediaRange, mt string) bool {
	for _, r := range ranges {
		if r.matches(mt) {
			return true
		}
	}
	return false
}

// wantsMultipart reports whether the client names multipart/related before
// any single-part type it accepts: bulk data can go either way.
func wantsMultipart(ranges []mediaRange) bool {
	for _, r := range ranges {
		switch r.mediaType {
		case "multipart/related":
			return true
		case "*/*":
			return false
		}
		if r.mediaType != "multipart/*" && !strings.HasPrefix(r.mediaType, "multipart/") {
			return false
		}
	}
	return false
}
