package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The database's tables: a key starts with a table byte.
//
//	m "format"           format version
//	j id                 job record
//	i id sop             the outcome of one instance of a job
//	k identity           id of the pending job with that identity (Enqueue)
//	r reference 0 id     jobs of a referral
//
// Job IDs are 24 hex digits, so "i" keys need no separator; references
// hold no 0 byte (validated).
const (
	tMeta      = 'm'
	tJob       = 'j'
	tInstance  = 'i'
	tIdentity  = 'k'
	tReference = 'r'
)

// formatVersion is the value encoding written: a version byte, then JSON.
// A value with a higher version was written by a newer Molar and is
// refused, not misread.
const formatVersion = 1

var errNewerFormat = errors.New("written by a newer version of Molar")

func jobKey(id string) []byte { return append([]byte{tJob}, id...) }

func instanceKey(id, sop string) []byte {
	k := append([]byte{tInstance}, id...)
	return append(k, sop...)
}

func instancePrefix(id string) []byte { return append([]byte{tInstance}, id...) }

func identityKey(ident []byte) []byte { return append([]byte{tIdentity}, ident...) }

func referenceKey(ref, id string) []byte {
	k := append([]byte{tReference}, ref...)
	k = append(k, 0)
	return append(k, id...)
}

func referencePrefix(ref string) []byte {
	k := append([]byte{tReference}, ref...)
	return append(k, 0)
}

// prefixEnd is the first key after every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// jobRec is a job as stored. It is its own type so the JSON of the admin
// API can change without changing the database.
type jobRec struct {
	ID          string    `json:"id"`
	Reference   string    `json:"ref"`
	Reason      string    `json:"reason,omitempty"`
	Node        Node      `json:"node"`
	Studies     []string  `json:"studies"`
	Identity    []byte    `json:"ident"`
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`
	Failures    int       `json:"failures"` // failed attempts in a row: the backoff's input
	NextAttempt time.Time `json:"next,omitzero"`
	GiveUpAt    time.Time `json:"give_up"`
	LastError   string    `json:"err,omitempty"`
	Total       int       `json:"total"`
	Sent        int       `json:"sent"`
	Failed      int       `json:"failed"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

func (r *jobRec) status() JobStatus {
	return JobStatus{
		ID: r.ID, Reference: r.Reference, Reason: r.Reason, Node: r.Node, Studies: r.Studies,
		State: r.State, Attempts: r.Attempts, NextAttempt: r.NextAttempt, GiveUpAt: r.GiveUpAt,
		LastError: r.LastError, Total: r.Total, Sent: r.Sent, Failed: r.Failed,
		Created: r.Created, Updated: r.Updated,
	}
}

// instRec is one instance of a job as stored.
type instRec struct {
	Study    string        `json:"study"`
	Series   string        `json:"series"`
	SOPClass string        `json:"class"`
	State    InstanceState `json:"state"`
	Status   string        `json:"status,omitempty"`
	Comment  string        `json:"comment,omitempty"`
	Updated  time.Time     `json:"updated"`
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{formatVersion}, b...), nil
}

func decode(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	if b[0] > formatVersion {
		return fmt.Errorf("format %d: %w", b[0], errNewerFormat)
	}
	return json.Unmarshal(b[1:], v)
}

// checkFormat records the format version in a new database and refuses
// one written by a newer Molar.
func checkFormat(db *pebble.DB) error {
	k := []byte{tMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	v, closer, err := db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return db.Set(k, []byte{formatVersion}, pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 1 || v[0] > formatVersion {
		return fmt.Errorf("database format %v: %w", v, errNewerFormat)
	}
	return nil
}

// getJob reads a job record; nil when there is none.
func getJob(db pebble.Reader, id string) (*jobRec, error) {
	v, closer, err := db.Get(jobKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	defer closer.Close()
	var r jobRec
	if err := decode(v, &r); err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return &r, nil
}

// scan calls fn with each key and value in [lower, upper), in order or in
// reverse. The slices are valid only during the call.
func scan(ctx context.Context, db pebble.Reader, lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	it, err := db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	first, next := it.First, it.Next
	if reverse {
		first, next = it.Last, it.Prev
	}
	for valid := first(); valid; valid = next() {
		if err := ctx.Err(); err != nil {
			it.Close()
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// instances returns the instance records of job id, by SOP Instance UID.
func instances(ctx context.Context, db pebble.Reader, id string) (map[string]*instRec, []string, error) {
	out := map[string]*instRec{}
	var order []string
	prefix := instancePrefix(id)
	err := scan(ctx, db, prefix, prefixEnd(prefix), false, func(k, v []byte) error {
		var r instRec
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("instance %s: %w", k[len(prefix):], err)
		}
		sop := string(k[len(prefix):])
		out[sop] = &r
		order = append(order, sop)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the instances of job %s: %w", id, err)
	}
	return out, order, nil
}

func setJSON(b *pebble.Batch, k []byte, v any) error {
	enc, err := encode(v)
	if err != nil {
		return err
	}
	return b.Set(k, enc, nil)
}
