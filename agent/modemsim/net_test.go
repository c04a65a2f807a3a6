package modemsim

import (
	"net"
	"time"
)

func dialUnix(path string) (net.Conn, error) { return net.Dial("unix", path) }

// readN reads until n bytes arrived or the timeout passed.
func readN(c net.Conn, n int, timeout time.Duration) string {
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 0, n)
	tmp := make([]byte, n)
	for len(buf) < n {
		k, err := c.Read(tmp[:n-len(buf)])
		buf = append(buf, tmp[:k]...)
		if err != nil {
			break
		}
	}
	return string(buf)
}
