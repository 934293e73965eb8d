package dcm

import "testing"

func TestParseTag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Tag
		ok   bool
	}{
		{"00100010", PatientName, true},
		{"(0010,0010)", PatientName, true},
		{"0008,0050", AccessionNumber, true},
		{"0020000d", StudyInstanceUID, true},
		{"PatientName", PatientName, true},
		{"AccessionNumber", AccessionNumber, true},
		{"ModalitiesInStudy", ModalitiesInStudy, true},
		{"NoSuchKeyword", 0, false},
		{"0010001", 0, false},
		{"", 0, false},
	} {
		got, err := ParseTag(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseTag(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if PatientName.Keyword() != "PatientName" || PatientName.Hex() != "00100010" || PatientName.String() != "(0010,0010)" {
		t.Errorf("PatientName renders as %q %q %q", PatientName.Keyword(), PatientName.Hex(), PatientName)
	}
}
