package broker

import (
	"net"
	"sync"
	"time"
)

// trackingListener counts accepted connections that mochi has not started reading yet.
//
// mochi-mqtt v2.7.9 calls Listeners.ClientsWg.Add(1) inside the goroutine it starts per accepted
// connection, while Server.Close calls ClientsWg.Wait: a connection accepted just before Close
// races Add against Wait (the race detector reports it). mochi reads a connection only after that
// Add, so once every accepted connection has been read from (or closed), Close is safe.
type trackingListener struct {
	net.Listener
	mu      sync.Mutex
	pending int
	settled *sync.Cond
}

func newTrackingListener(ln net.Listener) *trackingListener {
	l := &trackingListener{Listener: ln}
	l.settled = sync.NewCond(&l.mu)
	return l
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.pending++
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) done() {
	l.mu.Lock()
	l.pending--
	if l.pending == 0 {
		l.settled.Broadcast()
	}
	l.mu.Unlock()
}

// drain stops accepting and waits, at most timeout, until every accepted connection is read from.
func (l *trackingListener) drain(timeout time.Duration) {
	l.Listener.Close()
	timer := time.AfterFunc(timeout, func() {
		l.mu.Lock()
		l.pending = 0 // give up waiting; Close proceeds
		l.settled.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	for l.pending > 0 {
		l.settled.Wait()
	}
	l.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	c.once.Do(c.l.done)
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(c.l.done)
	return c.Conn.Close()
}
