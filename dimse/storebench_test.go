package dimse

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// BenchmarkCStoreSmallLoopback: our SCU sends ≈10 kB instances one after
// another over one association to our SCP, the serial path a modality
// takes. It isolates Molar's per-instance latency from storescu's.
func BenchmarkCStoreSmallLoopback(b *testing.B) {
	srv := startServer(b, nil)
	ctx := context.Background()
	d := Dialer{CallingAE: "BENCHSCU"}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Release()
	type inst struct {
		sop  string
		data []byte
	}
	insts := make([]inst, b.N)
	for i := range insts {
		spec := synth.Spec{Rows: 68, Columns: 68, PatientID: "9990000018",
			StudyUID:       fmt.Sprintf("1.2.826.0.1.3680043.10.1.%d", i/8),
			SeriesUID:      fmt.Sprintf("1.2.826.0.1.3680043.10.2.%d", i/8),
			SOPInstanceUID: fmt.Sprintf("1.2.826.0.1.3680043.10.3.%d", i)}
		buf, err := synth.Bytes(spec)
		if err != nil {
			b.Fatal(err)
		}
		f, err := dcm.ParsePart10(bytes.NewReader(buf), dcm.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		insts[i] = inst{spec.SOPInstanceUID, buf[f.DatasetOffset:]}
	}
	b.ResetTimer()
	for _, in := range insts {
		rsp, err := a.Store(ctx, StoreRequest{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: in.sop,
			TransferSyntax: dcm.ExplicitVRLittleEndian, Data: bytes.NewReader(in.data)})
		if err != nil {
			b.Fatal(err)
		}
		if rsp.Status != StatusSuccess {
			b.Fatalf("status %04X %s", rsp.Status, rsp.ErrorComment)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
}
