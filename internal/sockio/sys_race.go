//go:build linux && race

package sockio

import "syscall"

// With the race detector, reads and writes go through package syscall,
// whose Read and Write tell the detector that a write to a socket happens
// before the read that gets its bytes (as net.Conn's do); RawSyscall
// would hide that and make tests report races that are not there.

func sysRead(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), b)
	return n, errno(err)
}

func sysWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), b)
	return n, errno(err)
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno)
}
