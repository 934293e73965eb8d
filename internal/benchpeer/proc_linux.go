package benchpeer

import "syscall"

// ProcAttr puts a child in its own process group, so that stopping it
// reaches anything it forked (storescp --fork has a child per
// association), and has the kernel kill it if the test binary dies first
// (a panic, a go test -timeout), so no peer outlives a benchmark. Start
// uses it; so should any other child a benchmark runs.
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group a child made with ProcAttr
// leads.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// SyncDisks writes every dirty page back (sync(2)), so an iteration does
// not pay for the previous one's writes.
func SyncDisks() { syscall.Sync() }
