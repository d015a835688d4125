package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// completion is the fixed response body: about 1 KiB of OpenAI-style chat
// completion JSON.
var completion = func() []byte {
	content := strings.Repeat("Prefill reads the prompt once; decode writes one token at a time. ", 11)
	return []byte(`{"id":"chatcmpl-bench0001","object":"chat.completion","created":1764244800,` +
		`"model":"llama-3.1-8b-instruct","system_fingerprint":"fp_bench",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + content + `"},` +
		`"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":24,"completion_tokens":180,"total_tokens":204}}`)
}()

// firstEvent is the one event an SSE answer sends before it idles.
const firstEvent = `data: {"id":"chatcmpl-bench0001","object":"chat.completion.chunk","created":1764244800,` +
	`"model":"llama-3.1-8b-instruct","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}` + "\n\n"

// upstreamServer is a minimal HTTP/1.1 keep-alive server on loopback, far
// cheaper per request than net/http so that the load generator and it
// leave the proxy as the bottleneck. A request whose body holds
// "stream":true gets an event stream that sends one event and then idles
// until the client goes away; any other request gets the fixed completion.
type upstreamServer struct {
	lns     []net.Listener
	json    []byte // whole response, headers included
	sseHead []byte

	streams atomic.Int64 // open event streams
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// listenUpstream listens on n loopback ports.
func listenUpstream(n int) (*upstreamServer, error) {
	u := &upstreamServer{conns: map[net.Conn]struct{}{}}
	u.json = append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(completion))+"\r\n\r\n"), completion...)
	chunk := fmt.Sprintf("%x\r\n%s\r\n", len(firstEvent), firstEvent)
	u.sseHead = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n" + chunk)
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("upstream listen: %w", err)
		}
		u.lns = append(u.lns, ln)
		u.wg.Add(1)
		go u.accept(ln)
	}
	return u, nil
}

// Close stops listening and closes every connection.
func (u *upstreamServer) Close() {
	for _, ln := range u.lns {
		ln.Close()
	}
	u.mu.Lock()
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

func (u *upstreamServer) accept(ln net.Listener) {
	defer u.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		u.conns[c] = struct{}{}
		u.mu.Unlock()
		u.wg.Add(1)
		go u.serve(c)
	}
}

var errHeader = errors.New("malformed request header")

func (u *upstreamServer) serve(c net.Conn) {
	defer u.wg.Done()
	defer func() {
		u.mu.Lock()
		delete(u.conns, c)
		u.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 4096)
	var body []byte
	for {
		cl, chunked, err := readHead(br)
		if err != nil {
			return
		}
		if body, err = readBody(br, cl, chunked, body[:0]); err != nil {
			return
		}
		if bytes.Contains(body, []byte(`"stream":true`)) {
			u.idleStream(c, br)
			return
		}
		if _, err := c.Write(u.json); err != nil {
			return
		}
	}
}

// idleStream sends the event-stream head and first event, then waits for
// the client to close.
func (u *upstreamServer) idleStream(c net.Conn, br *bufio.Reader) {
	if _, err := c.Write(u.sseHead); err != nil {
		return
	}
	u.streams.Add(1)
	defer u.streams.Add(-1)
	io.Copy(io.Discard, br)
}

// readHead reads a request line and headers; it returns the body framing.
func readHead(br *bufio.Reader) (contentLength int, chunked bool, err error) {
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if first {
			first = false
			continue
		}
		if len(line) <= 2 {
			return contentLength, chunked, nil
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errHeader
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if contentLength, err = strconv.Atoi(string(val)); err != nil {
				return 0, false, errHeader
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		}
	}
}

// readBody reads a body framed by Content-Length or chunked encoding into
// buf.
func readBody(br *bufio.Reader, cl int, chunked bool, buf []byte) ([]byte, error) {
	if !chunked {
		return readN(br, cl, buf)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		hex, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(hex), 16, 32)
		if err != nil {
			return nil, errHeader
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(line) <= 2 {
					return buf, nil
				}
			}
		}
		if buf, err = readN(br, int(n), buf); err != nil {
			return nil, err
		}
		if _, err := br.Discard(2); err != nil {
			return nil, err
		}
	}
}

func readN(br *bufio.Reader, n int, buf []byte) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	_, err := io.ReadFull(br, buf[start:])
	return buf, err
}
