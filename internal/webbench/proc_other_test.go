//go:build !linux

package webbench

import (
	"os"
	"syscall"
)

// The benchmarks are meant for Linux (Orthanc from Debian, sync(2),
// process groups); elsewhere children are stopped one by one.

func procAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		if sig == syscall.SIGKILL {
			p.Kill()
		} else {
			p.Signal(os.Interrupt)
		}
	}
}

func syncDisks() {}
