package store

import (
	"context"
	"fmt"
)

// DeleteStudy removes a study: its index entries at once, its blobs right
// after the removal is durable. It returns how many instances went.
func (s *Store) DeleteStudy(ctx context.Context, study string) (int, error) {
	return s.delete(ctx, &deleteTarget{study: study})
}

// DeleteSeries removes one series of a study.
func (s *Store) DeleteSeries(ctx context.Context, study, series string) (int, error) {
	return s.delete(ctx, &deleteTarget{study: study, series: series})
}

// DeleteInstance removes one instance. study and series may be empty; when
// set they must be the instance's.
func (s *Store) DeleteInstance(ctx context.Context, study, series, sop string) error {
	_, err := s.delete(ctx, &deleteTarget{study: study, series: series, sop: sop})
	return err
}

func (s *Store) delete(ctx context.Context, d *deleteTarget) (int, error) {
	req := &commitReq{delete: d}
	if _, err := s.commit(ctx, req); err != nil {
		return 0, fmt.Errorf("delete %s/%s/%s: %w", d.study, d.series, d.sop, err)
	}
	if req.err != nil {
		return 0, fmt.Errorf("delete %s/%s/%s: %w", d.study, d.series, d.sop, req.err)
	}
	return req.n, nil
}
