// Package sockio wraps TCP connections so that their reads and writes
// are made with RawSyscall on the non-blocking socket, waiting (when the
// socket is not ready) through Go's poller as net.Conn does.
//
// Why: net.Conn's Read and Write enter the scheduler's syscall state. On
// machines where a loopback write takes tens of microseconds in the
// kernel (virtual machines: the write wakes the receiver, an IPI), the
// runtime's monitor (sysmon) sees the P stuck in a syscall, hands it to
// another thread and keeps polling every 20 us: with GOMAXPROCS=1 a proxy
// then spends a large share of its CPU on context switches (measured: the
// monitor thread alone did half of aimesh's context switches and 14% of
// its CPU). A read or write on a non-blocking socket cannot block, so it
// does not need the syscall state.
//
// Off Linux, Wrap returns the connection as is.
package sockio
