package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Blobs holds instance bytes, one immutable object per blob ID. The file
// system implementation is the default; the shape (whole-object writes,
// ranged reads, list by ID range) also fits an S3-compatible object store.
type Blobs interface {
	// Create starts a new blob. Nothing is visible to Open until Commit.
	Create(id uint64) (BlobWriter, error)
	// Open returns a blob for ranged reads.
	Open(id uint64) (Blob, error)
	// Remove deletes a blob; a missing blob is not an error.
	Remove(id uint64) error
	// Sync makes the existence of committed blobs durable (for files:
	// fsync of their directories). Called once per group commit.
	Sync(ids []uint64) error
	// Walk calls fn for every blob with from <= id < to, in ID order.
	Walk(from, to uint64, fn func(id uint64, size int64) error) error
}

// BlobWriter receives a blob's bytes.
type BlobWriter interface {
	io.Writer
	// Commit makes the bytes durable (fsync) and the blob openable.
	Commit() error
	// Abort discards the blob.
	Abort() error
}

// Blob is a stored blob open for reading.
type Blob interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// blobsPerDir bounds directory size: IDs are allocated in sequence, so a
// directory fills and the next one starts.
const blobDirShift = 12

// FileBlobs stores each blob as a file under root.
type FileBlobs struct {
	root string

	mu      sync.Mutex
	madeDir map[uint64]bool
}

// NewFileBlobs returns a file blob store rooted at dir, creating it.
func NewFileBlobs(dir string) (*FileBlobs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	return &FileBlobs{root: dir, madeDir: map[uint64]bool{}}, nil
}

func (b *FileBlobs) dir(id uint64) string {
	return filepath.Join(b.root, fmt.Sprintf("%010x", id>>blobDirShift))
}

// Path returns the file holding blob id.
func (b *FileBlobs) Path(id uint64) string {
	return filepath.Join(b.dir(id), fmt.Sprintf("%016x.dcm", id))
}

func (b *FileBlobs) ensureDir(id uint64) error {
	d := id >> blobDirShift
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.madeDir[d] {
		return nil
	}
	dir := b.dir(id)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// The new directory's own entry must survive a crash too.
		if err := syncDir(b.root); err != nil {
			return err
		}
	}
	b.madeDir[d] = true
	return nil
}

// Create implements Blobs.
func (b *FileBlobs) Create(id uint64) (BlobWriter, error) {
	if err := b.ensureDir(id); err != nil {
		return nil, fmt.Errorf("create blob %x: %w", id, err)
	}
	f, err := os.OpenFile(b.Path(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create blob %x: %w", id, err)
	}
	return &fileBlobWriter{f: f}, nil
}

type fileBlobWriter struct {
	f                *os.File
	done             bool
	written, flushed int64
}

// writebackChunk is how much a blob may hold in the page cache before the
// kernel is asked to start writing it out. Without it a 10 MB film reaches
// the disk only at Commit's fsync, with the disk idle while it streamed in.
const writebackChunk = 1 << 20

func (w *fileBlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.flushed >= writebackChunk {
		// Only a hint: durability still comes from Commit's fsync.
		startWriteback(w.f, w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	return n, err
}

func (w *fileBlobWriter) Commit() error {
	w.done = true
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("fsync blob: %w", err)
	}
	return w.f.Close()
}

func (w *fileBlobWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// Open implements Blobs.
func (b *FileBlobs) Open(id uint64) (Blob, error) {
	f, err := os.Open(b.Path(id))
	if err != nil {
		return nil, fmt.Errorf("open blob %x: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob %x: %w", id, err)
	}
	return &fileBlob{File: f, size: st.Size()}, nil
}

type fileBlob struct {
	*os.File
	size int64
}

func (f *fileBlob) Size() int64 { return f.size }

// Remove implements Blobs.
func (b *FileBlobs) Remove(id uint64) error {
	err := os.Remove(b.Path(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove blob %x: %w", id, err)
	}
	return nil
}

// Sync implements Blobs: one fsync per distinct directory.
func (b *FileBlobs) Sync(ids []uint64) error {
	var last uint64 = ^uint64(0)
	dirs := make([]uint64, 0, 1)
	for _, id := range ids {
		if d := id >> blobDirShift; d != last {
			dirs = append(dirs, d)
			last = d
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i] < dirs[j] })
	for i, d := range dirs {
		if i > 0 && dirs[i-1] == d {
			continue
		}
		if err := syncDir(b.dir(d << blobDirShift)); err != nil {
			return err
		}
	}
	return nil
}

// Walk implements Blobs.
func (b *FileBlobs) Walk(from, to uint64, fn func(id uint64, size int64) error) error {
	dirs, err := os.ReadDir(b.root)
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, d := range dirs {
		n, err := strconv.ParseUint(d.Name(), 16, 64)
		if err != nil || !d.IsDir() {
			continue
		}
		if n<<blobDirShift >= to || (n+1)<<blobDirShift <= from {
			continue
		}
		files, err := os.ReadDir(filepath.Join(b.root, d.Name()))
		if err != nil {
			return fmt.Errorf("list blobs: %w", err)
		}
		for _, f := range files {
			id, err := strconv.ParseUint(strings.TrimSuffix(f.Name(), ".dcm"), 16, 64)
			if err != nil || id < from || id >= to {
				continue
			}
			info, err := f.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			if err := fn(id, info.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
