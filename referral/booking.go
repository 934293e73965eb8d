package referral

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// Slot is an appointment slot of a directly bookable (DBS) service.
type Slot struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"service_id"`
	Start     time.Time `json:"start"`
	Minutes   int       `json:"minutes"`
	Location  string    `json:"location,omitempty"`
	// Referral is the ID of the referral booked into it; "" when free.
	Referral string `json:"referral,omitempty"`
}

func (sl *Slot) key() string {
	return pSlot + sl.ServiceID + "/" + sl.Start.UTC().Format(time.RFC3339) + "/" + sl.ID
}

// slotRef finds a slot by ID: "T/<id>" holds its key.
const pSlotID = "T/"

// AddSlots publishes free slots for a DBS service. Only the service's own
// organisation's booking staff (or the bootstrap token) may.
func (s *Service) AddSlots(ctx context.Context, p auth.Principal, serviceID string, slots []Slot) ([]Slot, error) {
	svc, err := s.db.service(serviceID)
	if err != nil {
		return nil, err
	}
	if !may(p, auth.ActionReferralBook) || (p.Via != auth.ViaBootstrap && p.Org != svc.OrgODS) {
		return nil, ErrForbidden
	}
	if svc.BookingModel != BookingDirect {
		return nil, &StepError{Err: FieldErrors{{Field: "service_id", Message: "This service is indirectly bookable: record appointments on the referral instead."}},
			Message: svc.Name + " is not directly bookable"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.db.newWriter()
	var errs FieldErrors
	for i := range slots {
		sl := &slots[i]
		sl.ID, sl.ServiceID, sl.Referral = newID(), serviceID, ""
		if sl.Start.IsZero() || sl.Start.Before(s.now()) {
			errs.add(fmt.Sprintf("slots[%d].start", i), "A slot must start in the future.")
		}
		if sl.Minutes <= 0 || sl.Minutes > 480 {
			errs.add(fmt.Sprintf("slots[%d].minutes", i), "A slot lasts between 1 and 480 minutes.")
		}
		if sl.Location == "" {
			sl.Location = svc.Address
		}
		if err := w.setJSON(sl.key(), sl); err != nil {
			return nil, err
		}
		if err := w.set(pSlotID+sl.ID, sl.key()); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		w.b.Close()
		return nil, &StepError{Err: errs, Message: errs.Error()}
	}
	return slots, w.commit()
}

// Slots lists a service's slots from `from` on; free only, or all.
func (s *Service) Slots(ctx context.Context, serviceID string, from time.Time, freeOnly bool) ([]Slot, error) {
	var out []Slot
	start := pSlot + serviceID + "/"
	err := s.db.scan(ctx, start, func(k string, v []byte) (bool, error) {
		var sl Slot
		if err := json.Unmarshal(v, &sl); err != nil {
			return false, err
		}
		if sl.Start.Before(from) || (freeOnly && sl.Referral != "") {
			return true, nil
		}
		out = append(out, sl)
		return true, nil
	})
	return out, err
}

// slotByID reads a slot. Called under s.mu.
func (s *Service) slotByID(id string) (*Slot, error) {
	k, err := s.db.getString(pSlotID + id)
	if err != nil {
		return nil, err
	}
	var sl Slot
	if err := s.db.getJSON(k, &sl); err != nil {
		return nil, err
	}
	return &sl, nil
}

// claimSlot fills a booking from a DBS slot, which must be the treating
// service's and free. Called under s.mu, inside update.
func (s *Service) claimSlot(r *Referral, a *Appointment) error {
	sl, err := s.slotByID(a.SlotID)
	if err != nil {
		return &StepError{Err: FieldErrors{{Field: "appointment.slot_id", Message: "That slot does not exist."}}, Message: "no such slot"}
	}
	if sl.ServiceID != r.ProviderService {
		return &StepError{Err: FieldErrors{{Field: "appointment.slot_id", Message: "That slot belongs to another service."}}, Message: "slot of another service"}
	}
	if sl.Referral != "" && sl.Referral != r.ID {
		return &StepError{Err: ErrConflict, Message: "That slot has just been taken: choose another."}
	}
	a.Start, a.Minutes, a.Location = sl.Start, sl.Minutes, sl.Location
	return nil
}

// slotWrites books the referral's slot and frees the one it had, in the
// referral's batch.
func (s *Service) slotWrites(old *Appointment) func(w *writer, r *Referral) error {
	return func(w *writer, r *Referral) error {
		var newID string
		if r.Appointment != nil {
			newID = r.Appointment.SlotID
		}
		if old != nil && old.SlotID != "" && old.SlotID != newID {
			if sl, err := s.slotByID(old.SlotID); err == nil && sl.Referral == r.ID {
				sl.Referral = ""
				if err := w.setJSON(sl.key(), sl); err != nil {
					return err
				}
			}
		}
		if newID != "" {
			sl, err := s.slotByID(newID)
			if err != nil {
				return err
			}
			sl.Referral = r.ID
			return w.setJSON(sl.key(), sl)
		}
		return nil
	}
}
