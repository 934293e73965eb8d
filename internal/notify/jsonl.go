package notify

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// jsonlFile is an append-only file of JSON records, one a line, each
// fsynced before the write returns. The outbox and the tracker keep their
// state in one each. It holds personal data (phone numbers, codes), so it
// is created, and kept, readable by its owner only.
//
// It is not safe for concurrent use; its owners hold their own locks.
type jsonlFile struct {
	path string
	f    *os.File
}

// openJSONL opens or creates the file at path and calls each for every
// complete line, numbered from 1. A last line without its newline is what
// a crash in the middle of an append leaves; that append never returned
// success, so the torn line is cut off (torn reports how many bytes) and
// appends go on from the last complete line.
func openJSONL(path string, each func(lineNo int, line []byte) error) (_ *jsonlFile, torn int64, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, 0, fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	// The file may predate us with wider permissions.
	if err := f.Chmod(0o600); err != nil {
		return nil, 0, fmt.Errorf("restrict permissions of %s: %w", path, err)
	}
	r := bufio.NewReader(f)
	var good int64 // offset just after the last complete line
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			torn = int64(len(line))
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", path, err)
		}
		good += int64(len(line))
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if err := each(lineNo, line); err != nil {
			return nil, 0, fmt.Errorf("%s line %d: %w", path, lineNo, err)
		}
	}
	if torn > 0 {
		if err := f.Truncate(good); err != nil {
			return nil, 0, fmt.Errorf("cut torn last line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	return &jsonlFile{path: path, f: f}, torn, nil
}

// append writes v as one line and waits until it is on disk.
func (j *jsonlFile) append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record for %s: %w", j.path, err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append to %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", j.path, err)
	}
	return nil
}

// rewriteJSONL atomically replaces the file's contents with records, one a
// line: a crash leaves either the old file or the new one.
func rewriteJSONL[T any](j *jsonlFile, records []T) error {
	tmp, err := os.CreateTemp(filepath.Dir(j.path), filepath.Base(j.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("compact %s: %w", j.path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			tmp.Close()
			return fmt.Errorf("compact %s: %w", j.path, err)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("compact %s: %w", j.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("compact %s: %w", j.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("compact %s: %w", j.path, err)
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return fmt.Errorf("compact %s: %w", j.path, err)
	}
	syncDir(filepath.Dir(j.path))
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("reopen %s after compaction: %w", j.path, err)
	}
	j.f.Close()
	j.f = f
	return nil
}

// syncDir makes a rename in dir durable. Some file systems cannot sync a
// directory; the rename has still happened, so errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (j *jsonlFile) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", j.path, err)
	}
	return nil
}

// newID returns a random (version 4) UUID, the form Notify's IDs take.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isUUID reports whether s is a UUID in its canonical 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
