package dimse

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// staticWorklist is a fixed list of scheduled steps.
type staticWorklist []WorklistItem

func (w staticWorklist) ScheduledItems(context.Context) ([]WorklistItem, error) { return w, nil }

var testWorklist = staticWorklist{
	{PatientName: "TAYLOR^GRACE", PatientID: "9990000069", AccessionNumber: "URN0000001", Modality: "IO",
		ScheduledStationAETitle: "PRACTICE1", ScheduledStartDate: "20261123", ScheduledStartTime: "090000",
		RequestedProcedureDescription: "Periapicals"},
	{PatientName: "EVANS^THOMAS", PatientID: "9990000077", AccessionNumber: "URN0000002", Modality: "PX",
		ScheduledStationAETitle: "PRACTICE1", ScheduledStartDate: "20261124", ScheduledStartTime: "100000",
		RequestedProcedureDescription: "OPG"},
	{PatientName: "EVANS^MARY", PatientID: "9990000085", AccessionNumber: "URN0000003", Modality: "PX",
		ScheduledStationAETitle: "PRACTICE2", ScheduledStartDate: "20261201", ScheduledStartTime: "110000",
		RequestedProcedureDescription: "OPG"},
}

// TestInteropWorklist: findscu -W against the worklist SCP, matching on
// top-level keys and on keys inside the Scheduled Procedure Step Sequence,
// with the requested keys, nested ones included, in each response.
func TestInteropWorklist(t *testing.T) {
	needTools(t, "findscu", "dcmdump")
	srv := startServer(t, func(s *Server) { s.Worklist = testWorklist })
	returnKeys := []string{"-k", "AccessionNumber", "-k", "PatientName", "-k", "PatientID",
		"-k", "RequestedProcedureDescription",
		"-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle"}
	for _, tc := range []struct {
		name string
		keys []string
		want []string // accession numbers
	}{
		{"everything", nil, []string{"URN0000001", "URN0000002", "URN0000003"}},
		{"by URN", []string{"-k", "AccessionNumber=URN0000002"}, []string{"URN0000002"}},
		{"patient name wildcard", []string{"-k", "PatientName=EVANS*"}, []string{"URN0000002", "URN0000003"}},
		{"modality in the step", []string{"-k", "ScheduledProcedureStepSequence[0].Modality=PX"}, []string{"URN0000002", "URN0000003"}},
		{"station and date range", []string{"-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=PRACTICE1",
			"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20261124-20261231"}, []string{"URN0000002"}},
		{"no match", []string{"-k", "PatientID=0000000000"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-W", "-X", "-od", dir}, append(returnKeys, tc.keys...)...)
			r := runTool(toolTimeout, "findscu", scuArgs(srv, "PRACTICE1", args...)...)
			if r.code != 0 {
				t.Fatalf("findscu failed:\n%s", r)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
			var got []string
			for _, f := range files {
				dump := mustRun(t, "dcmdump", "+P", "0008,0050", "+P", "0040,0001", "+P", "0032,1060", f).out
				if !strings.Contains(dump, "ScheduledStationAETitle") || !strings.Contains(dump, "RequestedProcedureDescription") {
					t.Errorf("%s lacks a requested key:\n%s", filepath.Base(f), dump)
				}
				i := strings.Index(dump, "[URN")
				if i < 0 {
					t.Fatalf("no AccessionNumber in %s:\n%s", filepath.Base(f), dump)
				}
				got = append(got, dump[i+1:i+11])
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("matches %v, want %v\n%s", got, tc.want, r)
			}
		})
	}

	// The worklist hands out patient data: an unknown AE is refused when
	// query services are closed to unknown peers.
	closed := startServer(t, func(s *Server) { s.Worklist = testWorklist; s.Policy.OpenQuery = false })
	r := runTool(toolTimeout, "findscu", scuArgs(closed, "STRANGER", "-W", "-k", "AccessionNumber")...)
	if !strings.Contains(r.out, "Calling AE Title Not Recognized") {
		t.Errorf("unknown AE asking for the worklist was not refused as such:\n%s", r)
	}
}
