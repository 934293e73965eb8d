package referral

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/audit"
)

func TestReminders(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	r := f.submitted() // promises an OPG that never comes
	noFilms := completeForm()
	noFilms.Radiographs = Radiographs{NoneReason: "not clinically indicated"}
	q, _, err := f.svc.CreateDraft(ctx, referrer, noFilms)
	if err != nil {
		t.Fatal(err)
	}
	q = f.take(referrer, q, StepRequest{Step: StepSubmit})
	question := f.take(triager, q, StepRequest{Step: StepRequestInfo, Reason: "medical-history", Comment: "Latest INR please."})

	// Nothing is overdue yet: no reminders, and a triager cannot send one.
	if n, err := f.svc.RemindOverdue(ctx); err != nil || n != 0 {
		t.Fatalf("RemindOverdue on day 0: %d, %v", n, err)
	}
	if _, err := f.svc.Remind(ctx, triager, r.ID, r.Version, ""); !errors.Is(err, ErrNotAllowedNow) {
		t.Errorf("reminder with nothing overdue: %v", err)
	}

	// Day 3: the films are overdue; the question is not yet.
	f.clock.add(3 * 24 * time.Hour)
	if n, err := f.svc.RemindOverdue(ctx); err != nil || n != 1 {
		t.Fatalf("RemindOverdue on day 3: %d, %v", n, err)
	}
	got, _ := f.svc.Get(ctx, referrer, r.ID)
	if got.Reminders != 1 || got.LastReminded.IsZero() || got.Status != StatusAwaitingTriage {
		t.Errorf("after the first reminder: %d reminders, last %v, %s", got.Reminders, got.LastReminded, got.Status)
	}
	evs, _ := f.svc.History(ctx, referrer, r.ID)
	last := evs[len(evs)-1]
	if last.Action != "remind" || last.User != "molar" || !strings.Contains(last.Comment, "radiographs promised") {
		t.Errorf("reminder event: %+v", last)
	}
	// Not again the next day.
	f.clock.add(24 * time.Hour)
	if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
		t.Errorf("reminded again after a day: %d", n)
	}

	// The practice sees what it is chased for on its chase list.
	list, err := f.svc.Worklist(ctx, referrer, "chase", 0)
	if err != nil || len(list) != 1 || list[0].ID != r.ID || list[0].Reminders != 1 || list[0].Chase == "" {
		t.Errorf("practice chase list: %+v, %v", list, err)
	}

	// Day 7: the question is overdue too, and the films are due another
	// reminder.
	f.clock.add(3 * 24 * time.Hour)
	if n, err := f.svc.RemindOverdue(ctx); err != nil || n != 2 {
		t.Errorf("RemindOverdue on day 7: %d, %v", n, err)
	}

	// A triager may chase by hand with a note; the referrer may not, and
	// another organisation's triager cannot even see it.
	got, _ = f.svc.Get(ctx, triager, question.ID)
	out, err := f.svc.Remind(ctx, triager, question.ID, got.Version, "Surgery list is on Friday.")
	if err != nil || out.Reminders != 2 {
		t.Fatalf("manual reminder: %v %+v", err, out)
	}
	if _, err := f.svc.Remind(ctx, referrer, question.ID, out.Version, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("referrer reminding: %v", err)
	}
	if _, err := f.svc.Remind(ctx, provClin, question.ID, out.Version, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unrelated organisation reminding: %v", err)
	}
	if _, err := f.svc.Remind(ctx, triager, question.ID, out.Version-1, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("stale reminder: %v", err)
	}

	// Answered: off the chase list, no more reminders.
	f.take(referrer, out, StepRequest{Step: StepProvideInfo, Comment: "INR 2.4 yesterday."})
	f.clock.add(10 * 24 * time.Hour)
	n, _ := f.svc.RemindOverdue(ctx)
	if n != 1 { // only the films, still missing
		t.Errorf("reminders after the answer: %d, want 1", n)
	}
}

func TestRefusalsAudited(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	r := f.submitted()
	denials := func() []audit.Entry {
		f.audit.mu.Lock()
		defer f.audit.mu.Unlock()
		var out []audit.Entry
		for _, e := range f.audit.entries {
			if e.Outcome == audit.OutcomeDenied {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		do     func() error
		action string
	}{
		{"another practice reads", func() error { _, err := f.svc.Get(ctx, otherRef, r.ID); return err }, audit.ActionReferralView},
		{"another practice reads the history", func() error { _, err := f.svc.History(ctx, otherRef, r.ID); return err }, "referral.history"},
		{"another practice edits", func() error {
			_, err := f.svc.Take(ctx, otherRef, r.ID, r.Version, StepRequest{Step: StepCancel, Reason: "other"})
			return err
		}, "referral.change"},
		{"the referrer triages", func() error {
			_, err := f.svc.Take(ctx, referrer, r.ID, r.Version, StepRequest{Step: StepReturn, Reason: "other", Comment: "x"})
			return err
		}, "referral.change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(denials())
			if err := tc.do(); err == nil {
				t.Fatal("allowed")
			}
			got := denials()
			if len(got) != before+1 {
				t.Fatalf("%d refusals recorded, want %d", len(got), before+1)
			}
			e := got[len(got)-1]
			if e.Action != tc.action || e.URN != r.URN || e.User == "" || e.Detail == "" {
				t.Errorf("refusal entry: %+v", e)
			}
		})
	}
	// Nothing is recorded as a read for the refused.
	f.audit.mu.Lock()
	defer f.audit.mu.Unlock()
	for _, e := range f.audit.entries {
		if e.User == otherRef.UserID && e.Outcome == audit.OutcomeOK {
			t.Errorf("refused user recorded as reading: %+v", e)
		}
	}
}

func TestDischargeLetterChased(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	r := f.accept(f.submitted(), f.ibs)
	r = f.take(provClin, r, StepRequest{Step: StepProviderAccept})
	r = f.take(provAdmin, r, StepRequest{Step: StepBook, Appointment: &Appointment{Start: f.clock.now().Add(48 * time.Hour), Minutes: 30}})
	f.clock.add(72 * time.Hour)
	r = f.take(provClin, r, StepRequest{Step: StepTreat})

	f.clock.add(13 * 24 * time.Hour)
	if list, _ := f.svc.Worklist(ctx, provClin, "chase", 0); len(list) != 0 {
		t.Errorf("letter chased after 13 days: %+v", list)
	}
	f.clock.add(24 * time.Hour)
	list, err := f.svc.Worklist(ctx, provClin, "chase", 0)
	if err != nil || len(list) != 1 || !strings.Contains(list[0].Chase, "discharge letter") {
		t.Fatalf("provider's chase list after 14 days: %+v, %v", list, err)
	}
	// The practice sees it too; the triage hub, which has no part in the
	// letter, does not.
	if list, _ := f.svc.Worklist(ctx, referrer, "chase", 0); len(list) != 1 {
		t.Errorf("practice's chase list: %+v", list)
	}
	if list, _ := f.svc.Worklist(ctx, triager, "chase", 0); len(list) != 0 {
		t.Errorf("the hub is chased for a provider's letter: %+v", list)
	}
	// The practice chases the provider; the triage hub has no part in it.
	cur, _ := f.svc.Get(ctx, referrer, r.ID)
	if _, err := f.svc.Remind(ctx, triager, r.ID, cur.Version, ""); !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrNotFound) {
		t.Errorf("triager chasing the letter: %v", err)
	}
	out, err := f.svc.Remind(ctx, referrer, r.ID, cur.Version, "We need it for the patient's notes.")
	if err != nil || out.Reminders != 1 {
		t.Fatalf("practice chasing the letter: %v", err)
	}
	// The automatic reminder waits its 3 days after that one.
	if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
		t.Errorf("automatic reminder right after a manual one: %d", n)
	}
	// Discharged: nothing is outstanding any more.
	f.take(provClin, out, StepRequest{Step: StepDischarge, Reason: "treated"})
	f.clock.add(30 * 24 * time.Hour)
	if n, _ := f.svc.RemindOverdue(ctx); n != 0 {
		t.Errorf("reminders after discharge: %d", n)
	}
}
