package referral

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// Remind records a reminder of what is outstanding on the referral:
// promised films that never came or a question left unanswered (the
// triage service reminds the practice), or the discharge letter of a
// treated patient (the practice reminds the provider). Both sides see it
// on their chase lists and in the referral's history. The server also
// sends one itself every few days (see RemindOverdue).
func (s *Service) Remind(ctx context.Context, p auth.Principal, id string, version int, comment string) (*Referral, error) {
	comment = strings.TrimSpace(comment)
	r, err := s.update(ctx, p, id, version, func(r *Referral, now time.Time) ([]Event, error) {
		who := rule{sides: []side{sideTriage}, actions: triageActs}
		if r.Status == StatusTreated {
			who = rule{sides: []side{sideReferrer}, actions: referrerActs}
		}
		if !permitted(p, r, who) {
			return nil, &StepError{Err: ErrForbidden,
				Message: fmt.Sprintf("As %s at %s you may not send reminders about this referral.", p.Role.Label(), orDash(p.Org))}
		}
		what := chase(r, now)
		if what == "" {
			return nil, &StepError{Err: ErrNotAllowedNow, Message: "Nothing on this referral is overdue: there is nothing to remind the practice of."}
		}
		return remind(r, now, what, comment), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, p, r, "referral.remind", "referral "+r.ID); err != nil {
		s.log.Error("referral: audit of a reminder failed", "referral", r.describe(), "err", err)
	}
	return r, nil
}

// remind updates r for a reminder and returns its event.
func remind(r *Referral, now time.Time, what, comment string) []Event {
	r.Reminders++
	r.LastReminded = now
	text := "Reminder: " + what + "."
	if comment != "" {
		text += " " + comment
	}
	return []Event{{Action: "remind", From: r.Status, To: r.Status, Comment: text}}
}

// RemindOverdue sends the reminders that are due: each referral on the
// chase list is reminded when it first goes on it and then every few
// days until the films or the answer arrive. It returns how many it sent.
func (s *Service) RemindOverdue(ctx context.Context) (int, error) {
	now := s.now()
	var due []string
	err := s.forEach(ctx, func(r *Referral) error {
		if remindDue(r, now) {
			due = append(due, r.ID)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("find overdue referrals: %w", err)
	}
	sent := 0
	for _, id := range due {
		_, err := s.update(ctx, system, id, 0, func(r *Referral, now time.Time) ([]Event, error) {
			if !remindDue(r, now) { // answered meanwhile
				return nil, errNoChange
			}
			evs := remind(r, now, chase(r, now), "Sent automatically.")
			evs[0].User = system.UserID
			return evs, nil
		}, nil)
		if err != nil {
			return sent, fmt.Errorf("remind %s: %w", id, err)
		}
		sent++
	}
	if sent > 0 {
		s.log.Info("referral: reminders sent", "count", sent)
	}
	return sent, nil
}

func remindDue(r *Referral, now time.Time) bool {
	return chase(r, now) != "" && (r.LastReminded.IsZero() || now.Sub(r.LastReminded) >= remindEvery)
}

// runReminders sends due reminders every interval until ctx ends or the
// service closes.
func (s *Service) runReminders(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.RemindOverdue(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("referral: reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}
