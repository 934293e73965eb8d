//go:build !linux

package store

import "os"

// startWriteback is a no-op where sync_file_range does not exist; fsync at
// Commit still makes blobs durable.
func startWriteback(*os.File, int64, int64) {}
