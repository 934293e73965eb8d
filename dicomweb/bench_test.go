package dicomweb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/molar-pacs/molar/internal/benchdata"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// benchServer serves st over loopback HTTP with an admitting guard.
func benchServer(b *testing.B, st *store.Store) *httptest.Server {
	svc, err := New(st, Options{Guard: tokenGuard{}, Recorder: &discardRecorder{}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	b.Cleanup(srv.Close)
	return srv
}

type discardRecorder struct{}

func (*discardRecorder) Record(context.Context, Event) error { return nil }

// benchGet fetches url, reads the body to the end and returns its size.
func benchGet(b *testing.B, client *http.Client, url, accept string) int64 {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	return n
}

// BenchmarkWebQIDOStudiesByAccession is GET /studies?AccessionNumber=… end to
// end over loopback HTTP, with 100,000 instances stored: how a hospital
// PACS or the viewer finds a referral's films.
func BenchmarkWebQIDOStudiesByAccession(b *testing.B) {
	dir, err := benchdata.QueryStore(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := benchServer(b, st)
	client := srv.Client()
	b.Run("instances=100k", func(b *testing.B) {
		i := 0
		for b.Loop() {
			study := (i * 7919) % benchdata.QueryStudies
			i++
			benchGet(b, client, srv.URL+"/dicom-web/studies?AccessionNumber="+benchdata.Accession(study), "")
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
	})
}

// seedBench ingests n instances of one series of a new study with rows x
// cols pixels, and returns the study and series UIDs.
func seedBench(b *testing.B, st *store.Store, n, rows, cols int) (string, string) {
	study, series := dcm.NewUID(), dcm.NewUID()
	for i := range n {
		data, err := synth.Bytes(synth.Spec{StudyUID: study, SeriesUID: series, SOPInstanceUID: dcm.NewUID(),
			Rows: rows, Columns: cols, InstanceNumber: i + 1, Seed: int64(i), PatientName: "BENCH^SERIES", AccessionNumber: "URNBENCH01"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Ingest(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	return study, series
}

// BenchmarkWebSeriesMetadata is GET …/series/{s}/metadata for a 20-instance
// series end to end, small films and large: it must not depend on file
// size, since the JSON was made at ingest.
func BenchmarkWebSeriesMetadata(b *testing.B) {
	for _, size := range []struct {
		name       string
		rows, cols int
	}{{"films=64x64", 64, 64}, {"films=2000x1400", 2000, 1400}} {
		b.Run(size.name, func(b *testing.B) {
			st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			study, series := seedBench(b, st, 20, size.rows, size.cols)
			srv := benchServer(b, st)
			client := srv.Client()
			url := fmt.Sprintf("%s/dicom-web/studies/%s/series/%s/metadata", srv.URL, study, series)
			for b.Loop() {
				benchGet(b, client, url, "application/dicom+json")
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/request")
		})
	}
}

// BenchmarkWebRetrieveStudy is WADO-RS retrieval of a 10-film study (≈56 MB)
// as multipart/related, from the page cache over loopback.
func BenchmarkWebRetrieveStudy(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	study, _ := seedBench(b, st, 10, 2000, 1400)
	srv := benchServer(b, st)
	client := srv.Client()
	url := srv.URL + "/dicom-web/studies/" + study
	n := benchGet(b, client, url, "") // warm the page cache
	b.SetBytes(n)
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, client, url, "")
	}
}

// BenchmarkWebRenderedOPG is GET …/rendered?viewport=1000, of a 3000×1500
// 16-bit panoramic end to end: read the frame, window it, scale it to
// 1000 pixels wide and encode a JPEG, as the viewer's film strip asks.
func BenchmarkWebRenderedOPG(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	spec := synth.Spec{StudyUID: dcm.NewUID(), SeriesUID: dcm.NewUID(), SOPInstanceUID: dcm.NewUID(),
		Rows: 1500, Columns: 3000, BitsStored: 16, Modality: "PX", SOPClassUID: synth.DXForPresentation}
	data, err := synth.Bytes(spec)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Ingest(context.Background(), bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	srv := benchServer(b, st)
	client := srv.Client()
	url := fmt.Sprintf("%s/dicom-web/studies/%s/series/%s/instances/%s/rendered?viewport=1000,", srv.URL, spec.StudyUID, spec.SeriesUID, spec.SOPInstanceUID)
	benchGet(b, client, url, "image/jpeg")
	for b.Loop() {
		benchGet(b, client, url, "image/jpeg")
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/image")
}
