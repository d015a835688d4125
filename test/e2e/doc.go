// Package e2e holds end-to-end tests that build the aimesh binary and run
// it as a user would, against real upstream servers on loopback: signals,
// exit codes, and what clients see while the process drains.
//
//	go test ./test/e2e/          (skipped with -short)
package e2e
