package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/dcm"
)

// Problem is one inconsistency fsck found.
type Problem struct {
	Kind   string // "missing blob", "size mismatch", "hash mismatch", "orphan blob", "dangling entry"
	SOP    string
	BlobID uint64
	Detail string
}

func (p Problem) String() string {
	s := p.Kind
	if p.SOP != "" {
		s += " sop=" + p.SOP
	}
	if p.BlobID != 0 {
		s += fmt.Sprintf(" blob=%016x", p.BlobID)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// FsckReport summarises a check.
type FsckReport struct {
	Instances int
	Blobs     int // blob files, and instances still held in the index (intake.go)
	Bytes     int64
	Problems  []Problem
}

// Fsck checks every index entry against its blob (existence, size, SHA-256)
// and every blob against the index. progress, if set, is called after each
// instance with the bytes hashed so far.
func (s *Store) Fsck(ctx context.Context, progress func(instances int, bytes int64)) (*FsckReport, error) {
	rep := &FsckReport{}
	owned := map[uint64]bool{}
	inline := map[uint64]bool{} // blobs still held in the index
	prefix := []byte{tInstance}
	buf := make([]byte, 1<<20)
	err := s.scan(ctx, prefix, prefixEnd(prefix), func(k, v []byte) error {
		_, parts, err := decodeKey(k)
		if err != nil || len(parts) != 3 {
			rep.Problems = append(rep.Problems, Problem{Kind: "dangling entry", Detail: fmt.Sprintf("bad key %q", k)})
			return nil
		}
		sop := parts[2]
		rec, err := decodeInstance(v)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: "dangling entry", SOP: sop, Detail: err.Error()})
			return nil
		}
		rep.Instances++
		owned[rec.BlobID] = true
		// The scan reads a snapshot; the lookups below and the blobs do
		// not. An instance deleted or replaced since the snapshot is not
		// damaged, so a problem counts only if the record is still live.
		report := func(p Problem) {
			if lv, err := s.get(k); err == nil && bytes.Equal(lv, v) {
				rep.Problems = append(rep.Problems, p)
			}
		}
		if lv, _ := s.get(key(tSOP, sop)); lv == nil {
			report(Problem{Kind: "dangling entry", SOP: sop, Detail: "no SOP lookup entry"})
		}
		if bv, _ := s.get(blobKey(tBlob, rec.BlobID)); string(bv) != sop {
			report(Problem{Kind: "dangling entry", SOP: sop, BlobID: rec.BlobID, Detail: "blob ownership entry missing or wrong"})
		}
		b, err := s.openBlob(rec.BlobID, nil)
		if err != nil {
			report(Problem{Kind: "missing blob", SOP: sop, BlobID: rec.BlobID, Detail: err.Error()})
			return nil
		}
		defer b.Close()
		if _, ok := b.(memBlob); ok {
			inline[rec.BlobID] = true
		}
		if b.Size() != rec.Size {
			report(Problem{Kind: "size mismatch", SOP: sop, BlobID: rec.BlobID,
				Detail: fmt.Sprintf("index says %d bytes, blob has %d", rec.Size, b.Size())})
			return nil
		}
		h := rec.Digest.alg.newHash()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(b, 0, b.Size()), buf); err != nil {
			report(Problem{Kind: "missing blob", SOP: sop, BlobID: rec.BlobID, Detail: err.Error()})
			return nil
		}
		if rec.Digest.alg.digest(h) != rec.Digest {
			report(Problem{Kind: "hash mismatch", SOP: sop, BlobID: rec.BlobID, Detail: "blob content changed since it was stored"})
		}
		rep.Bytes += rec.Size
		if progress != nil {
			progress(rep.Instances, rep.Bytes)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	rep.Blobs = len(inline)
	err = s.blobs.Walk(0, ^uint64(0), func(id uint64, size int64) error {
		if !inline[id] { // else a file being written out: counted
			rep.Blobs++
		}
		if !owned[id] && s.isOrphan(id) {
			rep.Problems = append(rep.Problems, Problem{Kind: "orphan blob", BlobID: id, Detail: fmt.Sprintf("%d bytes no index entry refers to", size)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	return rep, nil
}

// isOrphan re-checks, against the live index, a blob the scan's snapshot
// did not own. A blob's life is: in flight (being ingested), then owned
// ('B' key) from its commit, then pending deletion ('D' key) until it is
// unlinked. The checks follow that order, so a blob that moves on between
// them is caught by the next one, and last comes whether it still exists.
func (s *Store) isOrphan(id uint64) bool {
	if s.lease.isInflight(id) {
		return false
	}
	for _, table := range []byte{tBlob, tDeleteBlob} {
		if _, closer, err := s.db.Get(blobKey(table, id)); err == nil {
			closer.Close()
			return false
		}
	}
	b, err := s.blobs.Open(id)
	if err != nil {
		return false
	}
	b.Close()
	return true
}

func (l *blobLease) isInflight(id uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.inflight[id]
	return ok
}

// RepairReport summarises an index rebuild.
type RepairReport struct {
	Indexed     int
	Duplicates  int // older blobs of a SOP Instance UID seen again, removed
	Quarantined []string
}

// Repair rebuilds the index of the store in dir from its blobs. The store
// must not be open. Blobs that do not parse are moved to dir/quarantine;
// when two blobs hold the same SOP Instance UID, the newer one is kept.
// The old index is kept as dir/index.old-<time> until the rebuild succeeds.
func Repair(ctx context.Context, dir string, progress func(done int)) (*RepairReport, error) {
	blobs, err := NewFileBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	// Small instances a crash left in the old index (intake.go) are
	// written out to their files first, if that index still opens. Only
	// that: Open's recovery would trust the index this is repairing.
	if old, err := openPebble(filepath.Join(dir, "index"), 0, nil); err == nil {
		s := &Store{view: view{rd: old}, db: old, blobs: blobs}
		err := s.spillAll(s.spillDirect, nil)
		old.Close()
		if err != nil {
			return nil, fmt.Errorf("repair: write out small instances held in the old index: %w", err)
		}
	}
	tmpDir := filepath.Join(dir, "index.rebuild")
	if err := os.RemoveAll(tmpDir); err != nil {
		return nil, err
	}
	db, err := openPebble(tmpDir, 0, nil)
	if err != nil {
		return nil, err
	}
	s := &Store{view: view{rd: db}, db: db, blobs: blobs, policy: ReplaceDuplicates}
	rep := &RepairReport{}
	var maxID uint64
	qdir := filepath.Join(dir, "quarantine")
	err = blobs.Walk(0, ^uint64(0), func(id uint64, _ int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		maxID = max(maxID, id)
		inst, err := describeBlob(blobs, id)
		if err != nil {
			if err := os.MkdirAll(qdir, 0o755); err != nil {
				return err
			}
			dst := filepath.Join(qdir, fmt.Sprintf("%016x.dcm", id))
			if err := os.Rename(blobs.Path(id), dst); err != nil {
				return err
			}
			rep.Quarantined = append(rep.Quarantined, fmt.Sprintf("%s: %v", dst, err))
			return nil
		}
		t := s.newTxn()
		defer t.b.Close()
		res, err := t.add(inst)
		if err != nil {
			return fmt.Errorf("index blob %016x: %w", id, err)
		}
		if res.Outcome == Replaced || res.Outcome == AlreadyStored {
			rep.Duplicates++
		}
		if res.Outcome == AlreadyStored {
			t.discard = append(t.discard, id)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if err := t.b.Commit(pebble.NoSync); err != nil {
			return err
		}
		for _, d := range append(t.deleted, t.discard...) {
			if err := blobs.Remove(d); err != nil {
				return err
			}
			if err := db.Delete(blobKey(tDeleteBlob, d), pebble.NoSync); err != nil {
				return err
			}
		}
		rep.Indexed++
		if progress != nil {
			progress(rep.Indexed)
		}
		return nil
	})
	if err == nil {
		// Start new blob IDs above every existing one.
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, maxID+1)
		binary.BigEndian.PutUint64(v[8:], maxID+1)
		err = db.Set(leaseKey, v, pebble.Sync)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	rep.Indexed -= rep.Duplicates
	live := filepath.Join(dir, "index")
	old := filepath.Join(dir, "index.old-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.Rename(live, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("repair: set old index aside: %w", err)
	}
	if err := os.Rename(tmpDir, live); err != nil {
		return nil, fmt.Errorf("repair: install new index: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	os.RemoveAll(old)
	return rep, nil
}

// describeBlob parses a stored blob as ingest would have.
func describeBlob(blobs *FileBlobs, id uint64) (*pendingInstance, error) {
	f, err := os.Open(blobs.Path(id))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := digestXXH3.newHash()
	file, err := dcm.ParsePart10(io.TeeReader(f, h), dcm.ParseOptions{})
	if err != nil {
		return nil, parseReject(err)
	}
	inst, err := describe(file, nil)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	inst.rec.BlobID = id
	inst.rec.Size = file.Size
	inst.rec.Digest = digestXXH3.digest(h)
	inst.rec.Received = st.ModTime().UnixNano()
	return inst, nil
}
