package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing a file range to disk
// without waiting for it (sync_file_range with SYNC_FILE_RANGE_WRITE).
// Errors are ignored: the later fsync reports any that matter.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
