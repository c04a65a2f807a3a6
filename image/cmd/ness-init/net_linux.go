package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// ifreq for SIOCSIFADDR/SIOCSIFNETMASK/SIOCSIFFLAGS: the name, then a sockaddr or flags.
type ifreq struct {
	name [16]byte
	data [24]byte
}

func newIfreq(name string) *ifreq {
	var r ifreq
	copy(r.name[:], name)
	return &r
}

func (r *ifreq) setAddr(ip net.IP) {
	binary.LittleEndian.PutUint16(r.data[0:], syscall.AF_INET) // sa_family, host order (arm64/amd64: little)
	copy(r.data[4:8], ip.To4())
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func inetSocket() (int, error) {
	return syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
}

// linkUp sets IFF_UP on an interface.
func linkUp(name string) error {
	fd, err := inetSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	r := newIfreq(name)
	if err := ioctl(fd, syscall.SIOCGIFFLAGS, unsafe.Pointer(r)); err != nil {
		return fmt.Errorf("%s: get flags: %w", name, err)
	}
	flags := binary.LittleEndian.Uint16(r.data[:2]) | syscall.IFF_UP
	binary.LittleEndian.PutUint16(r.data[:2], flags)
	if err := ioctl(fd, syscall.SIOCSIFFLAGS, unsafe.Pointer(r)); err != nil {
		return fmt.Errorf("%s: set up: %w", name, err)
	}
	return nil
}

// setAddress gives an interface an IPv4 address and netmask.
func setAddress(name string, ip net.IP, mask net.IPMask) error {
	fd, err := inetSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	r := newIfreq(name)
	r.setAddr(ip)
	if err := ioctl(fd, syscall.SIOCSIFADDR, unsafe.Pointer(r)); err != nil {
		return fmt.Errorf("%s: set address %v: %w", name, ip, err)
	}
	r = newIfreq(name)
	r.setAddr(net.IP(mask))
	if err := ioctl(fd, syscall.SIOCSIFNETMASK, unsafe.Pointer(r)); err != nil {
		return fmt.Errorf("%s: set netmask: %w", name, err)
	}
	return linkUp(name)
}

// rtentry as the kernel's struct rtentry on 64-bit Linux.
type rtentry struct {
	pad1    uint64
	dst     [16]byte
	gateway [16]byte
	genmask [16]byte
	flags   uint16
	pad2    int16
	pad3    uint64
	pad4    uintptr
	metric  int16
	dev     uintptr
	mtu     uint64
	window  uint64
	irtt    uint16
}

func sockaddr4(ip net.IP) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint16(b[0:], syscall.AF_INET)
	copy(b[4:8], ip.To4())
	return b
}

// addDefaultRoute routes everything through gw.
func addDefaultRoute(gw net.IP) error {
	fd, err := inetSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	rt := rtentry{
		dst:     sockaddr4(net.IPv4zero),
		gateway: sockaddr4(gw),
		genmask: sockaddr4(net.IPv4zero),
		flags:   syscall.RTF_UP | syscall.RTF_GATEWAY,
	}
	if err := ioctl(fd, syscall.SIOCADDRT, unsafe.Pointer(&rt)); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("default route via %v: %w", gw, err)
	}
	return nil
}

// lease is what DHCP gave an interface.
type lease struct {
	ip, router net.IP
	mask       net.IPMask
	dns, ntp   []net.IP
	duration   time.Duration
	server     net.IP
}

func (l *lease) String() string {
	ones, _ := l.mask.Size()
	return fmt.Sprintf("%v/%d router %v dns %v ntp %v lease %v", l.ip, ones, l.router, l.dns, l.ntp, l.duration)
}

// DHCP message types and options (RFC 2131/2132).
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6
)

// dhcpClient runs DHCP on one interface over a UDP socket bound to it. The broadcast flag makes
// the server broadcast its answers, which reach the socket before the interface has an address.
type dhcpClient struct {
	ifname   string
	mac      net.HardwareAddr
	hostname string
}

func (c *dhcpClient) packet(typ byte, xid uint32, ciaddr, requested, server net.IP) []byte {
	p := make([]byte, 240, 400)
	p[0], p[1], p[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen
	binary.BigEndian.PutUint32(p[4:], xid)
	binary.BigEndian.PutUint16(p[10:], 0x8000) // broadcast flag
	if ciaddr != nil {
		copy(p[12:16], ciaddr.To4())
	}
	copy(p[28:], c.mac)
	copy(p[236:], []byte{99, 130, 83, 99})
	opt := func(code byte, data ...byte) { p = append(p, code, byte(len(data))); p = append(p, data...) }
	opt(53, typ)
	opt(61, append([]byte{1}, c.mac...)...)
	if requested != nil {
		opt(50, requested.To4()...)
	}
	if server != nil {
		opt(54, server.To4()...)
	}
	if c.hostname != "" {
		opt(12, []byte(c.hostname)...)
	}
	opt(55, 1, 3, 6, 15, 42, 51, 54)
	return append(p, 255)
}

func parseDHCP(p []byte, xid uint32, mac net.HardwareAddr) (typ byte, l *lease, ok bool) {
	if len(p) < 240 || p[0] != 2 || binary.BigEndian.Uint32(p[4:]) != xid ||
		string(p[28:34]) != string(mac) || string(p[236:240]) != "\x63\x82\x53\x63" {
		return 0, nil, false
	}
	l = &lease{ip: net.IP(append([]byte{}, p[16:20]...)), duration: time.Hour}
	ips := func(b []byte) []net.IP {
		var out []net.IP
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, net.IP(append([]byte{}, b[i:i+4]...)))
		}
		return out
	}
	for o := p[240:]; len(o) > 0; {
		code := o[0]
		if code == 255 {
			break
		}
		if code == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		data := o[2 : 2+int(o[1])]
		switch code {
		case 53:
			if len(data) == 1 {
				typ = data[0]
			}
		case 1:
			if len(data) == 4 {
				l.mask = net.IPMask(append([]byte{}, data...))
			}
		case 3:
			if r := ips(data); len(r) > 0 {
				l.router = r[0]
			}
		case 6:
			l.dns = ips(data)
		case 42:
			l.ntp = ips(data)
		case 51:
			if len(data) == 4 {
				l.duration = time.Duration(binary.BigEndian.Uint32(data)) * time.Second
			}
		case 54:
			if r := ips(data); len(r) > 0 {
				l.server = r[0]
			}
		}
		o = o[2+int(o[1]):]
	}
	if l.mask == nil {
		l.mask = l.ip.DefaultMask()
	}
	return typ, l, typ != 0
}

// exchange sends one packet and waits for the answer of the wanted type.
func (c *dhcpClient) exchange(conn net.PacketConn, pkt []byte, xid uint32, want byte, timeout time.Duration) (*lease, error) {
	if _, err := conn.WriteTo(pkt, &net.UDPAddr{IP: net.IPv4bcast, Port: 67}); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		typ, l, ok := parseDHCP(buf[:n], xid, c.mac)
		if !ok {
			continue
		}
		if typ == dhcpNak {
			return nil, errors.New("server said NAK")
		}
		if typ == want {
			return l, nil
		}
	}
}

func (c *dhcpClient) listen() (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1); serr != nil {
				return
			}
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
				return
			}
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, c.ifname)
		})
		return serr
	}}
	return lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:68")
}

// acquire runs DISCOVER/OFFER/REQUEST/ACK (or only REQUEST/ACK to renew prev).
func (c *dhcpClient) acquire(prev *lease) (*lease, error) {
	conn, err := c.listen()
	if err != nil {
		return nil, fmt.Errorf("%s: dhcp socket: %w", c.ifname, err)
	}
	defer conn.Close()
	var xb [4]byte
	rand.Read(xb[:])
	xid := binary.BigEndian.Uint32(xb[:])
	var offer *lease
	if prev != nil {
		offer = prev
	} else {
		offer, err = c.exchange(conn, c.packet(dhcpDiscover, xid, nil, nil, nil), xid, dhcpOffer, 3*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: dhcp discover: %w", c.ifname, err)
		}
	}
	ack, err := c.exchange(conn, c.packet(dhcpRequest, xid, nil, offer.ip, offer.server), xid, dhcpAck, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: dhcp request %v: %w", c.ifname, offer.ip, err)
	}
	return ack, nil
}

// networkInterfaces returns the wired interfaces worth configuring (not lo, not wlan).
func networkInterfaces() []net.Interface {
	ifs, _ := net.Interfaces()
	var out []net.Interface
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || strings.HasPrefix(i.Name, "wl") || len(i.HardwareAddr) != 6 {
			continue
		}
		out = append(out, i)
	}
	return out
}

func writeResolvConf(dns []net.IP) {
	var b strings.Builder
	for _, ip := range dns {
		fmt.Fprintf(&b, "nameserver %v\n", ip)
	}
	os.WriteFile("/run/resolv.conf", []byte(b.String()), 0o644)
}

// ntpQuery asks one server for the time (SNTPv4, RFC 4330).
func ntpQuery(server string, timeout time.Duration) (time.Time, error) {
	addr := server
	if _, _, err := net.SplitHostPort(server); err != nil {
		addr = net.JoinHostPort(server, "123")
	}
	conn, err := net.DialTimeout("udp", addr, timeout)
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	req := make([]byte, 48)
	req[0] = 0x23 // LI 0, version 4, client
	var nonce [8]byte
	rand.Read(nonce[:])
	copy(req[40:], nonce[:]) // transmit timestamp: echoed back as originate, checked below
	if _, err := conn.Write(req); err != nil {
		return time.Time{}, err
	}
	resp := make([]byte, 48)
	n, err := conn.Read(resp)
	if err != nil {
		return time.Time{}, err
	}
	if n < 48 || resp[0]&0x07 != 4 || string(resp[24:32]) != string(nonce[:]) {
		return time.Time{}, errors.New("not an answer to our request")
	}
	if stratum := resp[1]; stratum == 0 || stratum > 15 {
		return time.Time{}, fmt.Errorf("unsynchronised server (stratum %d)", stratum)
	}
	secs := binary.BigEndian.Uint32(resp[40:])
	frac := binary.BigEndian.Uint32(resp[44:])
	const ntpToUnix = 2208988800
	t := time.Unix(int64(secs)-ntpToUnix, int64(frac)*1e9>>32)
	if secs < ntpToUnix { // era 1 (after 2036)
		t = time.Unix(int64(secs)+1<<32-ntpToUnix, int64(frac)*1e9>>32)
	}
	return t, nil
}
