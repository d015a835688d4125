package main

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestFloorFraming(t *testing.T) {
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\nhello"
	next := "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
	for cut := 0; cut < len(req); cut++ {
		if n := messageLen([]byte(req[:cut])); n != -1 {
			t.Fatalf("messageLen of the first %d bytes = %d, want -1 (incomplete)", cut, n)
		}
	}
	if n := messageLen([]byte(req + next)); n != len(req) {
		t.Fatalf("messageLen = %d, want %d", n, len(req))
	}
	br := bufio.NewReader(strings.NewReader(req + next))
	got, err := readMessage(br, nil)
	if err != nil || string(got) != req {
		t.Fatalf("readMessage = %q, %v; want the first message", got, err)
	}
	if got, err = readMessage(br, got[:0]); err != nil || string(got) != next {
		t.Fatalf("second readMessage = %q, %v", got, err)
	}
	br = bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	if _, err := readMessage(br, nil); !errors.Is(err, errNoLength) {
		t.Fatalf("chunked message: %v, want errNoLength", err)
	}
}
