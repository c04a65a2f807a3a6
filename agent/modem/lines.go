package modem

// maxLineLen bounds one line from the modem. The longest legitimate lines are
// PDU lines (at most 2*(12+176) hex digits) and +CLAC lists (a few KiB on some
// Huawei firmware). Longer runs without a line end are garbage and are dropped.
const maxLineLen = 8192

// lineSplitter turns the byte stream from the modem into lines. A line ends at
// CR or LF; empty lines (from "\r\n", "\r\r\n" framing) are skipped; bytes
// outside printable ASCII (NUL, 0xFF noise at power-up, other control codes)
// are dropped so that a line that ends up printable still parses; a line that
// grows past max is discarded up to its end. A splitter is used by one
// goroutine only.
type lineSplitter struct {
	buf      []byte
	max      int
	overflow bool // discarding until the next line end
	dropped  int  // bytes dropped as noise or overflow, for diagnostics
}

func newLineSplitter(max int) *lineSplitter {
	if max <= 0 {
		max = maxLineLen
	}
	return &lineSplitter{max: max}
}

// feed consumes p and calls emit for each complete, non-empty line, with
// leading and trailing spaces removed.
func (s *lineSplitter) feed(p []byte, emit func(string)) {
	for _, b := range p {
		switch {
		case b == '\r' || b == '\n':
			if s.overflow {
				s.overflow = false
				s.buf = s.buf[:0]
				continue
			}
			line := trimSpaces(s.buf)
			s.buf = s.buf[:0]
			if len(line) > 0 {
				emit(string(line))
			}
		case s.overflow:
			s.dropped++
		case b == '\t' || (b >= 0x20 && b <= 0x7e):
			if len(s.buf) >= s.max {
				s.dropped += len(s.buf) + 1
				s.buf = s.buf[:0]
				s.overflow = true
				continue
			}
			s.buf = append(s.buf, b)
		default:
			s.dropped++
		}
	}
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
