package referral

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"reflect"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// filmFixture is a fixture on a real store, with the filer running.
func filmFixture(t *testing.T) (*fixture, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := newFixture(t, Options{Archive: st, Ingester: st})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.svc.Start(ctx)
	return f, st
}

func ingest(t *testing.T, st *store.Store, spec synth.Spec) *store.Result {
	t.Helper()
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Ingest(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitFor polls until cond holds: the filer works in the background.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) films(id string) []Film {
	r, err := f.svc.db.referral(id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Films
}

func TestFilmsFiledByURNByNHSNumberOrUnmatched(t *testing.T) {
	f, st := filmFixture(t)
	ctx := context.Background()
	r := f.submitted()

	// By URN: two instances of one study, filed once, counted twice.
	study := dcm.NewUID()
	for i := range 2 {
		ingest(t, st, synth.Spec{StudyUID: study, SeriesUID: study + ".1", InstanceNumber: i + 1, AccessionNumber: r.URN,
			PatientID: "1111111111", StudyDate: "20261030"})
	}
	waitFor(t, "the study filed by URN", func() bool {
		fl := f.films(r.ID)
		return len(fl) == 1 && fl[0].Instances == 2
	})
	if fl := f.films(r.ID)[0]; fl.StudyUID != study || fl.By != "urn" {
		t.Fatalf("film %+v", fl)
	}

	// By NHS number: no URN, the patient's number, a study date that fits.
	byNHS := ingest(t, st, synth.Spec{PatientID: "9434765919", StudyDate: "20261101", AccessionNumber: "PRACTICE123"})
	waitFor(t, "the study filed by NHS number", func() bool { return len(f.films(r.ID)) == 2 })
	if fl := f.films(r.ID)[1]; fl.StudyUID != byNHS.StudyUID || fl.By != "nhs-number" {
		t.Fatalf("film %+v", fl)
	}

	// Two open referrals for the patient: ambiguous, so unmatched.
	f.submitted()
	amb := ingest(t, st, synth.Spec{PatientID: "9434765919", StudyDate: "20261101"})
	// Nobody's: unmatched.
	stray := ingest(t, st, synth.Spec{PatientID: "not-an-nhs-no", AccessionNumber: "X1"})
	var list []Unmatched
	waitFor(t, "two unmatched studies", func() bool {
		list, _ = f.svc.UnmatchedFilms(ctx)
		return len(list) == 2
	})
	why := map[string]string{}
	for _, u := range list {
		why[u.StudyUID] = u.Why
	}
	if why[amb.StudyUID] != "2 open referrals fit its NHS number and study date" {
		t.Errorf("ambiguous study: %q", why[amb.StudyUID])
	}
	if why[stray.StudyUID] == "" {
		t.Errorf("stray study not listed: %+v", list)
	}

	// An administrator files the stray study by hand; it leaves the list.
	if _, err := f.svc.AttachFilm(ctx, sysadmin, stray.StudyUID, r.URN); err != nil {
		t.Fatal(err)
	}
	if fl := f.films(r.ID); len(fl) != 3 || fl[2].By != "admin" {
		t.Fatalf("films after attaching by hand: %+v", fl)
	}
	if list, _ := f.svc.UnmatchedFilms(ctx); len(list) != 1 || list[0].StudyUID != amb.StudyUID {
		t.Fatalf("unmatched after attaching: %+v", list)
	}
	events, _ := f.svc.History(ctx, referrer, r.ID)
	if last := events[len(events)-1]; last.Action != "film-filed" || last.User != sysadmin.UserID {
		t.Errorf("hand filing recorded as %+v", last)
	}
}

// The filer resumes from its cursor after a restart and files what
// arrived meanwhile, without refiling what it had.
func TestFilerResumes(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	f := newFixture(t, Options{Dir: dir, Archive: st})
	r := f.submitted()
	ctx := context.Background()
	n, _, err := f.svc.fileChanges(ctx, 0)
	if err != nil || n != 0 {
		t.Fatalf("empty feed: %d, %v", n, err)
	}
	ingest(t, st, synth.Spec{AccessionNumber: r.URN})
	if err := f.svc.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, Options{Dir: dir, Archive: st, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	again.Start(rctx)
	waitFor(t, "the study filed after restart", func() bool {
		got, _ := again.db.referral(r.ID)
		return len(got.Films) == 1
	})
}

// The filer's cursor is saved without a sync, so after a crash some
// changes are filed again. That must change nothing: no second film, no
// new history, and an unmatched study keeps the time it was first listed.
func TestRefilingChangesNothing(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := newFixture(t, Options{Archive: st})
	r := f.submitted()
	ctx := context.Background()
	filed, stray := dcm.NewUID(), dcm.NewUID()
	for i := range 2 {
		ingest(t, st, synth.Spec{StudyUID: filed, SeriesUID: filed + ".1", InstanceNumber: i + 1, AccessionNumber: r.URN})
		ingest(t, st, synth.Spec{StudyUID: stray, SeriesUID: stray + ".1", InstanceNumber: i + 1, PatientID: "not-an-nhs-no"})
	}
	if _, n, err := f.svc.fileChanges(ctx, 0); err != nil || n != 4 {
		t.Fatalf("first filing: %d changes, %v", n, err)
	}
	films := f.films(r.ID)
	events, _ := f.svc.History(ctx, referrer, r.ID)
	unmatched, _ := f.svc.UnmatchedFilms(ctx)
	if len(films) != 1 || films[0].Instances != 2 || len(unmatched) != 1 {
		t.Fatalf("after the first filing: films %+v, unmatched %+v", films, unmatched)
	}

	f.clock.add(time.Hour)
	if _, _, err := f.svc.fileChanges(ctx, 0); err != nil {
		t.Fatalf("filing again: %v", err)
	}
	if got := f.films(r.ID); !reflect.DeepEqual(got, films) {
		t.Errorf("films after filing again: %+v, want %+v", got, films)
	}
	if got, _ := f.svc.History(ctx, referrer, r.ID); len(got) != len(events) {
		t.Errorf("history after filing again: %d events, want %d", len(got), len(events))
	}
	if got, _ := f.svc.UnmatchedFilms(ctx); !reflect.DeepEqual(got, unmatched) {
		t.Errorf("unmatched after filing again: %+v, want %+v", got, unmatched)
	}
}

// A JPEG uploaded with the draft is kept until submission, then wrapped
// as Secondary Capture with the patient and URN, stored and filed.
func TestUploadWrappedAtSubmission(t *testing.T) {
	f, st := filmFixture(t)
	ctx := context.Background()
	r, _, err := f.svc.CreateDraft(ctx, referrer, completeForm())
	if err != nil {
		t.Fatal(err)
	}
	up, err := f.svc.AddUpload(ctx, referrer, r.ID, "opg.jpg", "OPG", "2026-10-30", bytes.NewReader(testJPEG(t)))
	if err != nil {
		t.Fatal(err)
	}
	if up.State != "pending" || up.Kind != "jpeg" {
		t.Fatalf("upload before submission: %+v", up)
	}
	if _, err := f.svc.AddUpload(ctx, referrer, r.ID, "notes.txt", "", "", bytes.NewReader([]byte("hello"))); err == nil {
		t.Fatal("a text file was accepted as a film")
	}
	cur, _ := f.svc.db.referral(r.ID)
	r = f.take(referrer, cur, StepRequest{Step: StepSubmit})
	waitFor(t, "the upload filed", func() bool { return len(f.films(r.ID)) == 1 })
	fl := f.films(r.ID)[0]
	// The wrapped film carries the URN, so the filer may file it before
	// the upload does; either way it is this referral's.
	if (fl.By != "upload" && fl.By != "urn") || fl.StudyUID != StudyUID(r.URN) {
		t.Fatalf("film %+v, want study %s by upload or URN", fl, StudyUID(r.URN))
	}
	attrs, err := st.Study(ctx, fl.StudyUID)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.First(dcm.AccessionNumber) != r.URN || attrs.First(dcm.PatientID) != "9434765919" || attrs.First(dcm.PatientName) != "SMITH^OLIVIA" {
		t.Errorf("wrapped study attributes: acc %q id %q name %q", attrs.First(dcm.AccessionNumber), attrs.First(dcm.PatientID), attrs.First(dcm.PatientName))
	}
	got, _ := f.svc.db.referral(r.ID)
	if len(got.Uploads) != 1 || got.Uploads[0].State != "stored" {
		t.Errorf("uploads after submission: %+v", got.Uploads)
	}
}

// testJPEG is a small greyscale baseline JPEG.
func testJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(1, 1, color.Gray{Y: 200})
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	return jpg.Bytes()
}

// The Modality Worklist offers submitted referrals that promised films
// and have none.
func TestAwaitingImages(t *testing.T) {
	f, st := filmFixture(t)
	ctx := context.Background()
	r := f.submitted()
	list, err := f.svc.AwaitingImages(ctx)
	if err != nil || len(list) != 1 || list[0].URN != r.URN || list[0].Modality != "PX" || list[0].ExpectedDate != "2026-10-30" {
		t.Fatalf("awaiting images = %+v, %v", list, err)
	}
	ingest(t, st, synth.Spec{AccessionNumber: r.URN})
	waitFor(t, "the film filed", func() bool { return len(f.films(r.ID)) == 1 })
	if list, _ := f.svc.AwaitingImages(ctx); len(list) != 0 {
		t.Fatalf("a referral with films still awaits them: %+v", list)
	}
}
