package webbench

import "syscall"

// procAttr puts each child in its own process group, so that stopping it
// reaches anything it forked, and has the kernel kill it if this test
// binary dies first (a panic, a go test -timeout), so no peer outlives a
// benchmark.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group a child made with procAttr
// leads.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// syncDisks writes every dirty page back (sync(2)), so an iteration does
// not pay for the previous one's writes.
func syncDisks() { syscall.Sync() }
