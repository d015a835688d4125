package proxy

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Pipe copies between two connections until either side closes, no byte
// moves in either direction for idle (0: no idle limit), or cut ends (a
// gateway's drain timeout). It closes both connections and returns the
// bytes copied each way.
func Pipe(cut context.Context, client, upstream net.Conn, idle time.Duration) (up, down int64) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			upstream.Close()
		})
	}
	var last idleClock
	last.touch()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(cut, closeBoth)
	defer stop()
	if idle > 0 {
		go func() {
			t := time.NewTicker(idle / 4)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if last.since() > idle {
						closeBoth()
						return
					}
				}
			}
		}()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		down = copyTouch(client, upstream, &last)
		halfClose(client)
	}()
	up = copyTouch(upstream, client, &last)
	halfClose(upstream)
	wg.Wait()
	closeBoth()
	return up, down
}

// halfClose signals end of stream to the peer where the connection allows.
func halfClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func copyTouch(dst io.Writer, src io.Reader, last *idleClock) int64 {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			last.touch()
			wn, werr := dst.Write(buf[:n])
			total += int64(wn)
			if werr != nil {
				return total
			}
		}
		if err != nil {
			return total
		}
	}
}

// idleClock records the last time a byte moved.
type idleClock struct{ ns atomic.Int64 }

func (c *idleClock) touch() { c.ns.Store(time.Now().UnixNano()) }

func (c *idleClock) since() time.Duration { return time.Duration(time.Now().UnixNano() - c.ns.Load()) }
