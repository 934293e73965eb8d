//go:build !linux

package benchpeer

import (
	"os"
	"syscall"
)

// The benchmarks are meant for Linux (Orthanc from Debian, sync(2),
// process groups); elsewhere children are stopped one by one.

// ProcAttr is nil: no process groups.
func ProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		if sig == syscall.SIGKILL {
			p.Kill()
		} else {
			p.Signal(os.Interrupt)
		}
	}
}

// SyncDisks does nothing.
func SyncDisks() {}
