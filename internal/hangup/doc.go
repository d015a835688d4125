// Package hangup notices clients that hang up while their connection is
// quiet, without a goroutine or a buffer per connection.
//
// A server that holds a client connection while it waits for something
// else (a model server that queues a request sends its headers at once and
// its first token much later) only learns that the client left when it
// next reads from or writes to the connection. A Watcher tells it at once:
// one epoll instance watches every registered socket for a peer hang-up
// (EPOLLRDHUP, EPOLLHUP or EPOLLERR) and calls the function given to
// Watch, so that the server can free what it holds for that client (an
// upstream connection, a queue slot) then.
//
// The epoll descriptor is itself waited on through Go's poller (it is
// readable while events are pending) and read with a timeout of 0: no
// thread ever blocks in epoll_wait, which with GOMAXPROCS=1 would hold the
// only P until the runtime's monitor took it back, stalling every request
// meanwhile.
//
// Off Linux, Watch reports that it cannot watch the connection: the server
// then notices that its client left when it next writes to it.
package hangup
