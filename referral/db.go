package referral

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// Key layout of the referral index. Components are joined with '/'; none
// of them (IDs, URNs, ODS codes, statuses, UIDs, fixed-width times) can
// contain one.
//
//	r/<id>                                  referral (JSON)
//	e/<id>/<seq:08>                         event (JSON)
//	u/<urn>                                 -> id
//	o/<org>/<status>/<sortkey>/<id>         worklist index, for every organisation the referral concerns
//	n/<nhs number>/<id>                     submitted referrals by NHS number (film matching)
//	f/<study uid>                           -> id: a study filed against a referral
//	x/<study uid>                           unmatched study (JSON)
//	d/<service id>                          Directory of Services entry (JSON)
//	t/<service id>/<start:RFC3339>/<slot>   booking slot (JSON)
//	m/<name>                                metadata: URN key and counter, change-feed cursor
const (
	pReferral  = "r/"
	pEvent     = "e/"
	pURN       = "u/"
	pOrg       = "o/"
	pNHS       = "n/"
	pFiled     = "f/"
	pUnmatched = "x/"
	pService   = "d/"
	pSlot      = "t/"
	pMeta      = "m/"
)

func prefixEnd(p string) []byte {
	b := []byte(p)
	b[len(b)-1]++
	return b
}

// sortKey orders a worklist: urgency first, then oldest first.
func (r *Referral) sortKey() string {
	at := r.Submitted
	if at.IsZero() {
		at = r.Created
	}
	return strconv.Itoa(r.Clinical.Urgency.rank()) + at.UTC().Format("20060102T150405.000000000")
}

// indexKeys are the secondary keys a referral's state implies.
func (r *Referral) indexKeys() []string {
	var keys []string
	orgs := []string{r.Referrer.PracticeODS, r.TriageOrg, r.ProviderOrg}
	seen := map[string]bool{}
	for _, o := range orgs {
		if o == "" || seen[o] {
			continue
		}
		seen[o] = true
		keys = append(keys, pOrg+o+"/"+string(r.Status)+"/"+r.sortKey()+"/"+r.ID)
	}
	if r.Referrer.PracticeODS == "" {
		// A draft not yet tied to a practice is still listed, under "-".
		keys = append(keys, pOrg+"-/"+string(r.Status)+"/"+r.sortKey()+"/"+r.ID)
	}
	if r.Status != StatusDraft && r.Patient.NHSNumber != "" {
		keys = append(keys, pNHS+r.Patient.NHSNumber+"/"+r.ID)
	}
	if r.URN != "" {
		keys = append(keys, pURN+r.URN)
	}
	return keys
}

type db struct{ pdb *pebble.DB }

func (d db) getJSON(key string, v any) error {
	b, closer, err := d.pdb.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer closer.Close()
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func (d db) getString(key string) (string, error) {
	b, closer, err := d.pdb.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer closer.Close()
	return string(b), nil
}

// scan calls fn for each key with prefix, in order; fn returns false to
// stop.
func (d db) scan(ctx context.Context, prefix string, fn func(k string, v []byte) (bool, error)) error {
	it, err := d.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		more, err := fn(string(it.Key()), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return it.Error()
}

// scanReverse is scan, newest key first.
func (d db) scanReverse(ctx context.Context, prefix string, fn func(k string, v []byte) (bool, error)) error {
	it, err := d.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.Last(); ok; ok = it.Prev() {
		more, err := fn(string(it.Key()), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return it.Error()
}

// writer collects one change set, committed with Sync.
type writer struct {
	b *pebble.Batch
}

func (d db) newWriter() *writer { return &writer{b: d.pdb.NewBatch()} }

func (w *writer) setJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return w.b.Set([]byte(key), b, nil)
}

func (w *writer) set(key, value string) error { return w.b.Set([]byte(key), []byte(value), nil) }
func (w *writer) del(key string) error        { return w.b.Delete([]byte(key), nil) }

func (w *writer) commit() error {
	defer w.b.Close()
	return w.b.Commit(pebble.Sync)
}

// commitLazily commits without waiting for the disk: for writes that a
// crash may lose because they are redone from their source (the film
// filer's cursor). The next synced commit makes them durable too.
func (w *writer) commitLazily() error {
	defer w.b.Close()
	return w.b.Commit(pebble.NoSync)
}

// putReferral writes r, its index entries (replacing old's) and events.
func (w *writer) putReferral(old, r *Referral, events []Event) error {
	if old != nil {
		for _, k := range old.indexKeys() {
			if err := w.del(k); err != nil {
				return err
			}
		}
	}
	if err := w.setJSON(pReferral+r.ID, r); err != nil {
		return err
	}
	for _, k := range r.indexKeys() {
		v := ""
		if k == pURN+r.URN {
			v = r.ID
		}
		if err := w.set(k, v); err != nil {
			return err
		}
	}
	for _, e := range events {
		if err := w.setJSON(fmt.Sprintf("%s%s/%08d", pEvent, r.ID, e.Seq), e); err != nil {
			return err
		}
	}
	return nil
}

func (d db) referral(id string) (*Referral, error) {
	var r Referral
	if err := d.getJSON(pReferral+id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (d db) events(ctx context.Context, id string) ([]Event, error) {
	var out []Event
	err := d.scan(ctx, pEvent+id+"/", func(_ string, v []byte) (bool, error) {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return false, err
		}
		out = append(out, e)
		return true, nil
	})
	return out, err
}

func (d db) service(id string) (*HealthcareService, error) {
	var s HealthcareService
	if err := d.getJSON(pService+id, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (d db) services(ctx context.Context) ([]*HealthcareService, error) {
	var out []*HealthcareService
	err := d.scan(ctx, pService, func(_ string, v []byte) (bool, error) {
		var s HealthcareService
		if err := json.Unmarshal(v, &s); err != nil {
			return false, err
		}
		out = append(out, &s)
		return true, nil
	})
	return out, err
}

// triageService is the commissioned triage service for a specialty; the
// first by ID when there are several (one per region is the norm).
func (d db) triageService(specialty string) (*HealthcareService, error) {
	all, err := d.services(context.Background())
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.Triage() && s.Commissioned && (len(s.TriageFor) == 0 || slices.Contains(s.TriageFor, specialty)) {
			return s, nil
		}
	}
	return nil, nil
}

func (d db) counter(name string) (uint64, error) {
	v, err := d.getString(pMeta + name)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}
