package forward

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job asks for studies to be sent to a node.
type Job struct {
	// Studies are Study Instance UIDs; order and repetition do not matter.
	Studies []string
	Node    Node
	// Reference is the caller's reference: the referral URN.
	Reference string
	// Reason is a short operational note shown to administrators ("accepted
	// by provider RYJ10"); never clinical text.
	Reason string
}

// Limits on what a job may hold.
const (
	maxStudies   = 100
	maxReference = 64
	maxReason    = 256
	maxUID       = 64
)

// validate checks the job and returns it normalised: node trimmed, studies
// sorted and unique.
func (j Job) validate() (Job, error) {
	if err := j.Node.Validate(); err != nil {
		return j, err
	}
	if err := printable("reference", j.Reference, maxReference); err != nil {
		return j, err
	}
	if strings.TrimSpace(j.Reference) == "" {
		return j, fmt.Errorf("job reference: empty: %w", ErrInvalid)
	}
	if j.Reason != "" {
		if err := printable("reason", j.Reason, maxReason); err != nil {
			return j, err
		}
	}
	if len(j.Studies) == 0 {
		return j, fmt.Errorf("job: no studies: %w", ErrInvalid)
	}
	studies := slices.Clone(j.Studies)
	slices.Sort(studies)
	studies = slices.Compact(studies)
	if len(studies) > maxStudies {
		return j, fmt.Errorf("job: %d studies, at most %d: %w", len(studies), maxStudies, ErrInvalid)
	}
	for _, s := range studies {
		if !validUID(s) {
			return j, fmt.Errorf("job study %q: not a UID: %w", s, ErrInvalid)
		}
	}
	j.Studies = studies
	j.Node = j.Node.normalised()
	return j, nil
}

// identity is what makes two Enqueue calls the same job (see the package
// documentation): a hash, so the key is short whatever the study count.
func (j Job) identity() []byte {
	h := sha256.New()
	for _, s := range []string{j.Reference, j.Node.AETitle, j.Node.Host, strconv.Itoa(j.Node.Port)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, s := range j.Studies {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func printable(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("job %s: %d bytes, at most %d: %w", what, len(s), max, ErrInvalid)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7F || r == '\uFFFD' {
			return fmt.Errorf("job %s: control or invalid character: %w", what, ErrInvalid)
		}
	}
	return nil
}

// validUID checks a UID's syntax (PS3.5 9.1): at most 64 characters,
// components of digits without leading zeros, separated by dots.
func validUID(u string) bool {
	if u == "" || len(u) > maxUID {
		return false
	}
	for _, c := range strings.Split(u, ".") {
		if c == "" || len(c) > 1 && c[0] == '0' {
			return false
		}
		for i := 0; i < len(c); i++ {
			if c[i] < '0' || c[i] > '9' {
				return false
			}
		}
	}
	return true
}

// State is where a job stands.
type State string

// Job states. Done, Failed and Cancelled are final: the job stays listed
// but the worker no longer touches it (Retry brings a failed or cancelled
// job back).
const (
	Queued    State = "queued"     // waiting for a worker; NextAttempt says when
	Sending   State = "sending"    // an association is open for it
	RetryWait State = "retry-wait" // the last attempt failed; the next is at NextAttempt
	Done      State = "done"       // every instance delivered
	Failed    State = "failed"     // ended with instances not delivered; see LastError
	Cancelled State = "cancelled"
)

// Final reports whether the worker is done with a job in state s.
func (s State) Final() bool { return s == Done || s == Failed || s == Cancelled }

func (s State) valid() bool {
	switch s {
	case Queued, Sending, RetryWait, Done, Failed, Cancelled:
		return true
	}
	return false
}

// JobStatus is a job as administrators see it.
type JobStatus struct {
	ID        string   `json:"id"`
	Reference string   `json:"reference"`
	Reason    string   `json:"reason,omitempty"`
	Node      Node     `json:"node"`
	Studies   []string `json:"studies"`
	State     State    `json:"state"`
	// Attempts counts associations tried (or begun) for the job.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt_at,omitzero"`
	// GiveUpAt is when a failing job stops being retried: MaxAge after its
	// creation or the administrator's last Retry.
	GiveUpAt  time.Time `json:"give_up_at"`
	LastError string    `json:"last_error,omitempty"`
	// Instance counts: known to the job, delivered (success or warning),
	// failed for good. Total-Sent-Failed are still to send.
	Total   int       `json:"instances_total"`
	Sent    int       `json:"instances_sent"`
	Failed  int       `json:"instances_failed"`
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
	// Instances is each instance's outcome; filled by Queue.Job only.
	Instances []InstanceStatus `json:"instances,omitempty"`
}

// InstanceState is where one instance of a job stands.
type InstanceState string

// Instance states.
const (
	InstancePending InstanceState = "pending"
	InstanceSent    InstanceState = "sent"
	InstanceFailed  InstanceState = "failed"
)

// InstanceStatus is the outcome of one instance of a job.
type InstanceStatus struct {
	StudyUID       string        `json:"study_uid"`
	SeriesUID      string        `json:"series_uid"`
	SOPInstanceUID string        `json:"sop_instance_uid"`
	SOPClassUID    string        `json:"sop_class_uid"`
	State          InstanceState `json:"state"`
	// Status is the node's last C-STORE status for it, in hex ("0000",
	// "B007", "C011"); empty when it was never answered.
	Status string `json:"status,omitempty"`
	// Comment is the node's Error Comment, or why it could not be sent.
	Comment string    `json:"comment,omitempty"`
	Updated time.Time `json:"updated_at"`
}

// Filter selects jobs for Queue.Jobs.
type Filter struct {
	// States, when not empty, keeps jobs in one of them.
	States []State
	// Reference, when set, keeps the jobs of one referral.
	Reference string
	// Limit bounds the answer (default 100, at most 1000). Jobs come
	// newest first.
	Limit int
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)
