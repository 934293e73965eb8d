package store

import (
	"context"
	"sync/atomic"
)

// Stats are counters since Open, for /metrics.
type Stats struct {
	Stored, AlreadyStored, Replaced, Rejected int64
	BytesStored                               int64
	Deleted                                   int64
	// CommitGroups and CommitRequests show how well group commit shares
	// fsyncs: requests per group is the sharing factor.
	CommitGroups, CommitRequests int64
}

type counters struct {
	stored, already, replaced, rejected atomic.Int64
	bytes, deleted                      atomic.Int64
	groups, requests                    atomic.Int64
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	c := &s.counters
	return Stats{
		Stored: c.stored.Load(), AlreadyStored: c.already.Load(), Replaced: c.replaced.Load(),
		Rejected: c.rejected.Load(), BytesStored: c.bytes.Load(), Deleted: c.deleted.Load(),
		CommitGroups: c.groups.Load(), CommitRequests: c.requests.Load(),
	}
}

func (c *counters) count(group []*commitReq) {
	c.groups.Add(1)
	c.requests.Add(int64(len(group)))
	for _, req := range group {
		switch {
		case req.err != nil:
			if _, ok := IsReject(req.err); ok {
				c.rejected.Add(1)
			}
		case req.delete != nil:
			c.deleted.Add(int64(req.n))
		case req.res != nil:
			switch req.res.Outcome {
			case Stored:
				c.stored.Add(1)
				c.bytes.Add(req.res.Size)
			case AlreadyStored:
				c.already.Add(1)
			case Replaced:
				c.replaced.Add(1)
				c.bytes.Add(req.res.Size)
			}
		}
	}
}

// Ping checks the index answers, for /healthz.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.get(leaseKey)
	return err
}
