//go:build unix && !linux

package sockio

import "syscall"

func readFD(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }
