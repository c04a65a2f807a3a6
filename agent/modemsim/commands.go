package modemsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type handler func(s *Slot, c Command) ([]string, result)

// handlers maps a command name to its implementation. Vendor commands that depend on the model
// (ICCID, power-off) are looked up in execLocked.
var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"E":  func(s *Slot, c Command) ([]string, result) { return flag(&s.sess.echo, c) },
		"V":  func(s *Slot, c Command) ([]string, result) { return flag(&s.sess.verbose, c) },
		"Q":  acceptDigits("0"),
		"X":  acceptDigits("0", "1", "2", "3", "4"),
		"H":  acceptDigits("", "0"),
		"Z":  resetSession,
		"&F": resetSession,
		"&W": acceptDigits("", "0"),
		"&C": acceptDigits("", "0", "1"),
		"&D": acceptDigits("", "0", "1", "2"),
		"I":  ati,

		"+CGMI": identity(func(s *Slot) []string { return []string{s.model.Manufacturer} }),
		"+GMI":  identity(func(s *Slot) []string { return []string{s.model.Manufacturer} }),
		"+CGMM": identity(func(s *Slot) []string { return []string{s.model.ModelID} }),
		"+GMM":  identity(func(s *Slot) []string { return []string{s.model.ModelID} }),
		"+CGMR": identity(func(s *Slot) []string { return []string{s.model.RevisionLine} }),
		"+GMR":  identity(func(s *Slot) []string { return []string{s.model.RevisionLine} }),
		"+CGSN": identity(func(s *Slot) []string { return []string{s.id.IMEI} }),
		"+GSN":  identity(func(s *Slot) []string { return []string{s.id.IMEI} }),
		"+GCAP": identity(func(s *Slot) []string { return []string{"+GCAP: +CGSM"} }),
		"+CIMI": simIdentity(func(s *Slot) []string { return []string{s.id.IMSI} }),
		"+CNUM": simIdentity(func(s *Slot) []string {
			return []string{fmt.Sprintf(`+CNUM: "","%s",145`, s.id.Number)}
		}),

		"+CMEE":  intSetting(func(s *Slot) *int { return &s.sess.cmee }, "+CMEE", "(0-2)", 0, 2),
		"+CMGF":  intSetting(func(s *Slot) *int { return &s.sess.cmgf }, "+CMGF", "(0,1)", 0, 1),
		"+CSDH":  intSetting(func(s *Slot) *int { return &s.sess.csdh }, "+CSDH", "(0,1)", 0, 1),
		"+CLIP":  intSetting(func(s *Slot) *int { return &s.sess.clip }, "+CLIP", "(0,1)", 0, 1),
		"+CRC":   intSetting(func(s *Slot) *int { return &s.sess.crc }, "+CRC", "(0,1)", 0, 1),
		"+CREG":  regCommand("+CREG", func(s *Slot) *int { return &s.sess.creg }),
		"+CGREG": regCommand("+CGREG", func(s *Slot) *int { return &s.sess.cgreg }),
		"+CEREG": func(s *Slot, c Command) ([]string, result) {
			if !s.model.HasCEREG {
				return nil, errorResult
			}
			return regCommand("+CEREG", func(s *Slot) *int { return &s.sess.cereg })(s, c)
		},
		"+CSQ":  csq,
		"+CPIN": cpin,
		"+COPS": cops,
		"+CFUN": cfun,
		"+CSCS": cscs,
		"+CSCA": csca,
		"+CSMS": csms,
		"+CPMS": cpms,
		"+CNMI": cnmi,
		"+CMGL": cmgl,
		"+CMGR": cmgr,
		"+CMGD": cmgd,
		"+CRSM": crsm,
		"+IPR": func(s *Slot, c Command) ([]string, result) {
			switch c.Kind {
			case Read:
				return []string{"+IPR: 115200"}, okResult
			case Test:
				return []string{"+IPR: (0,300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800,921600)"}, okResult
			}
			return nil, okResult
		},
		"+IFC": func(s *Slot, c Command) ([]string, result) {
			if c.Kind == Read {
				return []string{"+IFC: 0,0"}, okResult
			}
			return nil, okResult
		},
	}
}

// execLocked runs one command.
func (s *Slot) execLocked(c Command) ([]string, result) {
	if strings.HasPrefix(c.Name, "S") && len(c.Name) > 1 && c.Name[0] == 'S' && isDigit(c.Name[1]) {
		if c.Kind == Read {
			return []string{"000"}, okResult
		}
		return nil, okResult
	}
	switch c.Name {
	case s.model.ICCIDCommand:
		if c.Kind == Test {
			return nil, okResult
		}
		if c.Kind != Action {
			return nil, errorResult
		}
		if s.fault == FaultNoSIM {
			return nil, cme(10)
		}
		return []string{s.model.ICCIDPrefix + s.id.ICCID}, okResult
	case s.model.PowerOffCommand:
		return s.softPowerOff(c)
	}
	h, ok := handlers[c.Name]
	if !ok {
		return nil, errorResult
	}
	return h(s, c)
}

func (s *Slot) softPowerOff(c Command) ([]string, result) {
	if c.Kind == Test || c.Kind == Read {
		return nil, okResult
	}
	if c.Kind == Set && len(c.Args) == 1 && c.Args[0] == "0" && s.model.PowerOffCommand != "+CPOF" {
		// urgent power-off: no URC
		s.afterAnswer = append(s.afterAnswer, func() { s.powerDownLocked(false) })
		return nil, okResult
	}
	if s.model.PowerOffCommand == "+CPOWD" {
		// SIM800 answers AT+CPOWD=1 with the URC only, no OK.
		s.powerDownLocked(true)
		return nil, result{kind: resNone}
	}
	s.afterAnswer = append(s.afterAnswer, func() { s.powerDownLocked(true) })
	return nil, okResult
}

func flag(p *bool, c Command) ([]string, result) {
	switch c.Kind {
	case Action, Set:
		switch c.Value {
		case "", "0":
			*p = false
		case "1":
			*p = true
		default:
			return nil, errorResult
		}
		return nil, okResult
	}
	return nil, errorResult
}

func acceptDigits(values ...string) handler {
	return func(s *Slot, c Command) ([]string, result) {
		if c.Kind == Action && slices.Contains(values, c.Value) {
			return nil, okResult
		}
		return nil, errorResult
	}
}

func resetSession(s *Slot, c Command) ([]string, result) {
	if c.Kind != Action || (c.Value != "" && c.Value != "0") {
		return nil, errorResult
	}
	s.sess = defaultSession()
	return nil, okResult
}

func ati(s *Slot, c Command) ([]string, result) {
	if c.Kind != Action {
		return nil, errorResult
	}
	var out []string
	for _, l := range s.model.ATI {
		out = append(out, strings.ReplaceAll(l, "{imei}", s.id.IMEI))
	}
	return out, okResult
}

func identity(f func(*Slot) []string) handler {
	return func(s *Slot, c Command) ([]string, result) {
		switch c.Kind {
		case Action:
			return f(s), okResult
		case Test:
			return nil, okResult
		}
		return nil, errorResult
	}
}

func simIdentity(f func(*Slot) []string) handler {
	return func(s *Slot, c Command) ([]string, result) {
		if s.fault == FaultNoSIM && c.Kind == Action {
			return nil, cme(10)
		}
		return identity(f)(s, c)
	}
}

// atoiArg parses a decimal parameter within [lo, hi].
func atoiArg(c Command, i, lo, hi int) (int, bool) {
	if i >= len(c.Args) || c.Quoted[i] {
		return 0, false
	}
	v, err := strconv.Atoi(c.Args[i])
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

func intSetting(field func(*Slot) *int, name, rng string, lo, hi int) handler {
	return func(s *Slot, c Command) ([]string, result) {
		switch c.Kind {
		case Read:
			return []string{fmt.Sprintf("%s: %d", name, *field(s))}, okResult
		case Test:
			return []string{name + ": " + rng}, okResult
		case Set:
			v, ok := atoiArg(c, 0, lo, hi)
			if !ok || len(c.Args) != 1 {
				return nil, errorResult
			}
			*field(s) = v
			return nil, okResult
		}
		return nil, errorResult
	}
}

// regStatLocked is the <stat> of +CREG and friends.
func (s *Slot) regStatLocked() int {
	switch {
	case s.fault == FaultNoSIM || s.sess.cfun != 1:
		return 0 // not registered, not searching
	case s.fault == FaultNoReg:
		return 2 // searching
	}
	return 1 // home
}

func regCommand(name string, field func(*Slot) *int) handler {
	return func(s *Slot, c Command) ([]string, result) {
		switch c.Kind {
		case Read:
			n, stat := *field(s), s.regStatLocked()
			if n == 2 && (stat == 1 || stat == 5) {
				lac, ci := fmt.Sprintf("%04X", 0x1000+s.n), fmt.Sprintf("%08X", 0x01A2B000+s.n)
				if s.model.COPSAcT >= 0 {
					return []string{fmt.Sprintf(`%s: %d,%d,"%s","%s",%d`, name, n, stat, lac, ci, s.model.COPSAcT)}, okResult
				}
				return []string{fmt.Sprintf(`%s: %d,%d,"%s","%s"`, name, n, stat, lac, ci)}, okResult
			}
			return []string{fmt.Sprintf("%s: %d,%d", name, n, stat)}, okResult
		case Test:
			return []string{name + ": (0-2)"}, okResult
		case Set:
			v, ok := atoiArg(c, 0, 0, 2)
			if !ok || len(c.Args) != 1 {
				return nil, errorResult
			}
			*field(s) = v
			return nil, okResult
		}
		return nil, errorResult
	}
}

func csq(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Action:
		rssi := 14 + s.n%15
		if s.fault == FaultNoSIM || s.sess.cfun != 1 {
			rssi = 99
		}
		return []string{fmt.Sprintf("+CSQ: %d,99", rssi)}, okResult
	case Test:
		return []string{"+CSQ: (0-31,99),(0-7,99)"}, okResult
	}
	return nil, errorResult
}

func cpin(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		if s.fault == FaultNoSIM {
			return nil, cme(10)
		}
		return []string{"+CPIN: READY"}, okResult
	case Test:
		return nil, okResult
	case Set:
		if s.fault == FaultNoSIM {
			return nil, cme(10)
		}
		return nil, cme(3) // no PIN is wanted
	}
	return nil, errorResult
}

const operatorName, operatorShort, operatorNumeric = "NESS Sim", "NESS", "00101"

func cops(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		if s.regStatLocked() != 1 {
			return []string{"+COPS: 0"}, okResult
		}
		op := operatorName
		switch s.sess.copsFormat {
		case 1:
			op = operatorShort
		case 2:
			op = operatorNumeric
		}
		if s.model.COPSAcT >= 0 {
			return []string{fmt.Sprintf(`+COPS: 0,%d,"%s",%d`, s.sess.copsFormat, op, s.model.COPSAcT)}, okResult
		}
		return []string{fmt.Sprintf(`+COPS: 0,%d,"%s"`, s.sess.copsFormat, op)}, okResult
	case Test:
		if s.fault == FaultNoSIM {
			return nil, cme(10)
		}
		act := ""
		if s.model.COPSAcT >= 0 {
			act = fmt.Sprintf(",%d", s.model.COPSAcT)
		}
		return []string{fmt.Sprintf(`+COPS: (2,"%s","%s","%s"%s),,(0-4),(0-2)`, operatorName, operatorShort, operatorNumeric, act)}, okResult
	case Set:
		mode, ok := atoiArg(c, 0, 0, 4)
		if !ok {
			return nil, errorResult
		}
		if len(c.Args) > 1 && c.Args[1] != "" {
			f, ok := atoiArg(c, 1, 0, 2)
			if !ok {
				return nil, errorResult
			}
			s.sess.copsFormat = f
		}
		if mode == 1 || mode == 4 {
			if len(c.Args) < 3 || (c.Args[2] != operatorName && c.Args[2] != operatorShort && c.Args[2] != operatorNumeric) {
				return nil, cme(30)
			}
		}
		return nil, okResult
	}
	return nil, errorResult
}

func cfun(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		return []string{fmt.Sprintf("+CFUN: %d", s.sess.cfun)}, okResult
	case Test:
		return []string{"+CFUN: (0,1,4),(0,1)"}, okResult
	case Set:
		fun, ok := atoiArg(c, 0, 0, 4)
		if !ok || fun == 2 || fun == 3 || len(c.Args) > 2 {
			return nil, errorResult
		}
		reset := 0
		if len(c.Args) == 2 {
			if reset, ok = atoiArg(c, 1, 0, 1); !ok {
				return nil, errorResult
			}
		}
		if reset == 1 {
			if fun != 1 {
				return nil, cme(3)
			}
			// Reset: answer OK, then go through a boot as after power-up.
			s.afterAnswer = append(s.afterAnswer, s.startBootLocked)
			return nil, okResult
		}
		before := s.regStatLocked()
		s.sess.cfun = fun
		if s.regStatLocked() != before {
			s.afterAnswer = append(s.afterAnswer, s.registrationURCsLocked)
		}
		return nil, okResult
	}
	return nil, errorResult
}

var charsets = []string{"IRA", "GSM", "UCS2"}

func cscs(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		return []string{fmt.Sprintf(`+CSCS: "%s"`, s.sess.cscs)}, okResult
	case Test:
		return []string{`+CSCS: ("IRA","GSM","UCS2")`}, okResult
	case Set:
		if len(c.Args) != 1 || !slices.Contains(charsets, strings.ToUpper(c.Args[0])) {
			return nil, cme(4)
		}
		s.sess.cscs = strings.ToUpper(c.Args[0])
		return nil, okResult
	}
	return nil, errorResult
}

func csca(s *Slot, c Command) ([]string, result) {
	if s.fault == FaultNoSIM && c.Kind != Test {
		return nil, cms(310)
	}
	switch c.Kind {
	case Read:
		return []string{fmt.Sprintf(`+CSCA: "%s",%d`, s.smsc, s.smscType)}, okResult
	case Test:
		return nil, okResult
	case Set:
		if len(c.Args) < 1 || len(c.Args) > 2 || !numericAddress.MatchString(c.Args[0]) {
			return nil, cms(304)
		}
		t := 129
		if strings.HasPrefix(c.Args[0], "+") {
			t = 145
		}
		if len(c.Args) == 2 {
			v, ok := atoiArg(c, 1, 128, 255)
			if !ok {
				return nil, cms(304)
			}
			t = v
		}
		s.smsc, s.smscType = c.Args[0], t
		return nil, okResult
	}
	return nil, errorResult
}

func csms(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		return []string{"+CSMS: 0,1,1,1"}, okResult
	case Test:
		return []string{"+CSMS: (0,1)"}, okResult
	case Set:
		if _, ok := atoiArg(c, 0, 0, 1); !ok || len(c.Args) != 1 {
			return nil, errorResult
		}
		return []string{"+CSMS: 1,1,1"}, okResult
	}
	return nil, errorResult
}

// smsReadyLocked returns a CMS error when SMS commands cannot work now.
func (s *Slot) smsReadyLocked() (result, bool) {
	if s.fault == FaultNoSIM {
		return cms(310), false
	}
	return okResult, true
}

func (s *Slot) usedTotalLocked(mem string) (int, int) {
	st := s.stores[mem]
	if s.fault == FaultFull {
		return len(st.msgs), len(st.msgs)
	}
	return st.used(), len(st.msgs)
}

func cpms(s *Slot, c Command) ([]string, result) {
	if c.Kind == Test {
		list := `("` + strings.Join(s.model.Storages, `","`) + `")`
		return []string{"+CPMS: " + list + "," + list + "," + list}, okResult
	}
	if res, ok := s.smsReadyLocked(); !ok {
		return nil, res
	}
	switch c.Kind {
	case Read:
		var parts []string
		for _, m := range s.sess.mem {
			u, t := s.usedTotalLocked(m)
			parts = append(parts, fmt.Sprintf(`"%s",%d,%d`, m, u, t))
		}
		return []string{"+CPMS: " + strings.Join(parts, ",")}, okResult
	case Set:
		if len(c.Args) < 1 || len(c.Args) > 3 {
			return nil, errorResult
		}
		mem := s.sess.mem
		for i, a := range c.Args {
			a = strings.ToUpper(a)
			if a == "" && i > 0 {
				continue
			}
			if _, ok := s.stores[a]; !ok {
				return nil, cms(302)
			}
			mem[i] = a
		}
		s.sess.mem = mem
		var parts []string
		for _, m := range mem {
			u, t := s.usedTotalLocked(m)
			parts = append(parts, fmt.Sprintf("%d,%d", u, t))
		}
		return []string{"+CPMS: " + strings.Join(parts, ",")}, okResult
	}
	return nil, errorResult
}

func cnmi(s *Slot, c Command) ([]string, result) {
	switch c.Kind {
	case Read:
		n := s.sess.cnmi
		return []string{fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", n[0], n[1], n[2], n[3], n[4])}, okResult
	case Test:
		return []string{s.model.CNMITest}, okResult
	case Set:
		if len(c.Args) > 5 {
			return nil, errorResult
		}
		n := s.sess.cnmi
		for i, a := range c.Args {
			if a == "" {
				continue
			}
			v, err := strconv.Atoi(a)
			if err != nil || c.Quoted[i] || !slices.Contains(s.model.CNMIRanges[i], v) {
				return nil, cms(303)
			}
			n[i] = v
		}
		s.sess.cnmi = n
		return nil, okResult
	}
	return nil, errorResult
}

// parseStat reads the <stat> of AT+CMGL: a number in PDU mode, a string in text mode.
func (s *Slot) parseStat(c Command) (int, bool) {
	if c.Kind == Action || len(c.Args) == 0 {
		return statUnread, true
	}
	if len(c.Args) > 2 {
		return 0, false
	}
	if s.sess.cmgf == 1 {
		if !c.Quoted[0] {
			return 0, false
		}
		i := slices.Index(statNames, strings.ToUpper(c.Args[0]))
		return i, i >= 0
	}
	return atoiArg(c, 0, 0, 4)
}

func cmgl(s *Slot, c Command) ([]string, result) {
	if c.Kind == Test {
		if s.sess.cmgf == 1 {
			return []string{`+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")`}, okResult
		}
		return []string{"+CMGL: (0-4)"}, okResult
	}
	if c.Kind == Read {
		return nil, errorResult
	}
	if res, ok := s.smsReadyLocked(); !ok {
		return nil, res
	}
	stat, ok := s.parseStat(c)
	if !ok {
		return nil, cms(302)
	}
	keep := len(c.Args) == 2 && c.Args[1] == "1"
	st := s.stores[s.sess.mem[0]]
	var out []string
	for i, m := range st.msgs {
		if m == nil || (stat != statAll && m.stat != stat) {
			continue
		}
		out = append(out, s.listEntryLocked(s.model.IndexBase+i, m)...)
		if m.stat == statUnread && !keep {
			m.stat = statRead
		}
	}
	return out, okResult
}

// listEntryLocked is one +CMGL entry: header line and data line.
func (s *Slot) listEntryLocked(index int, m *message) []string {
	if s.sess.cmgf == 0 {
		return []string{
			fmt.Sprintf("+CMGL: %d,%d,%s,%d", index, m.stat, s.model.EmptyAlpha, tpduLength(m.pdu)),
			fmt.Sprintf("%X", m.pdu),
		}
	}
	d := decodeStored(m.pdu)
	text, oa := s.textLocked(d)
	h := fmt.Sprintf(`+CMGL: %d,"%s","%s","","%s"`, index, statNames[m.stat], oa, sctsText(d.scts))
	if s.sess.csdh == 1 {
		h += fmt.Sprintf(",%d,%d", d.toa, len([]rune(d.text)))
	}
	return []string{h, text}
}

// textLocked renders a decoded message's text and originator for text mode under AT+CSCS.
func (s *Slot) textLocked(d decoded) (text, oa string) {
	text, oa = d.text, d.oa
	if s.sess.cscs == "UCS2" {
		return ucs2Hex(text), ucs2Hex(oa)
	}
	if d.ucs2 {
		text = ucs2Hex(text)
	}
	return text, oa
}

// indexLocked maps a storage index from a command to a slice position.
func (s *Slot) indexLocked(c Command, st *storage) (int, bool) {
	i, ok := atoiArg(c, 0, s.model.IndexBase, s.model.IndexBase+len(st.msgs)-1)
	return i - s.model.IndexBase, ok
}

func cmgr(s *Slot, c Command) ([]string, result) {
	if c.Kind == Test {
		return nil, okResult
	}
	if c.Kind != Set || len(c.Args) > 2 {
		return nil, errorResult
	}
	if res, ok := s.smsReadyLocked(); !ok {
		return nil, res
	}
	st := s.stores[s.sess.mem[0]]
	pos, ok := s.indexLocked(c, st)
	if !ok {
		return nil, cms(321)
	}
	m := st.msgs[pos]
	if m == nil {
		return nil, okResult // an empty location reads as nothing, as SIMCom and Quectel do
	}
	stat := m.stat
	if m.stat == statUnread && !(len(c.Args) == 2 && c.Args[1] == "1") {
		m.stat = statRead
	}
	if s.sess.cmgf == 0 {
		return []string{
			fmt.Sprintf("+CMGR: %d,%s,%d", stat, s.model.EmptyAlpha, tpduLength(m.pdu)),
			fmt.Sprintf("%X", m.pdu),
		}, okResult
	}
	d := decodeStored(m.pdu)
	text, oa := s.textLocked(d)
	h := fmt.Sprintf(`+CMGR: "%s","%s","","%s"`, statNames[stat], oa, sctsText(d.scts))
	if s.sess.csdh == 1 {
		h += fmt.Sprintf(`,%d,%d,%d,%d,"%s",%d,%d`, d.toa, d.fo, d.pid, d.dcs, d.smsc, d.tosca, len([]rune(d.text)))
	}
	return []string{h, text}, okResult
}

func cmgd(s *Slot, c Command) ([]string, result) {
	st := s.stores[s.sess.mem[0]]
	if c.Kind == Test {
		var used []string
		for i, m := range st.msgs {
			if m != nil {
				used = append(used, strconv.Itoa(s.model.IndexBase+i))
			}
		}
		return []string{fmt.Sprintf("+CMGD: (%s),(0-4)", strings.Join(used, ","))}, okResult
	}
	if c.Kind != Set || len(c.Args) > 2 {
		return nil, errorResult
	}
	if res, ok := s.smsReadyLocked(); !ok {
		return nil, res
	}
	flag := 0
	if len(c.Args) == 2 {
		var ok bool
		if flag, ok = atoiArg(c, 1, 0, 4); !ok {
			return nil, cms(302)
		}
	}
	if flag == 0 {
		pos, ok := s.indexLocked(c, st)
		if !ok {
			return nil, cms(321)
		}
		st.msgs[pos] = nil
		return nil, okResult
	}
	// With a delflag the index is ignored (but must still be a number).
	if _, err := strconv.Atoi(c.Args[0]); err != nil || c.Quoted[0] {
		return nil, cms(321)
	}
	for i, m := range st.msgs {
		if m == nil {
			continue
		}
		del := false
		switch flag {
		case 1:
			del = m.stat == statRead
		case 2:
			del = m.stat == statRead || m.stat == statSent
		case 3:
			del = m.stat != statUnread
		case 4:
			del = true
		}
		if del {
			st.msgs[i] = nil
		}
	}
	return nil, okResult
}

// crsm answers the restricted SIM access READ BINARY of EF_ICCID (2FE2); other files are
// reported as not found.
func crsm(s *Slot, c Command) ([]string, result) {
	if c.Kind == Test {
		return nil, okResult
	}
	if c.Kind != Set {
		return nil, errorResult
	}
	if s.fault == FaultNoSIM {
		return nil, cme(10)
	}
	cmd, ok1 := atoiArg(c, 0, 0, 255)
	file, ok2 := atoiArg(c, 1, 0, 65535)
	if !ok1 || !ok2 {
		return nil, errorResult
	}
	if cmd == 176 && file == 0x2FE2 {
		return []string{fmt.Sprintf(`+CRSM: 144,0,"%s"`, swapNibbles(s.id.ICCID))}, okResult
	}
	return []string{"+CRSM: 106,130"}, okResult
}

// swapNibbles gives the on-SIM BCD form of a digit string, padded with F to 20 nibbles.
func swapNibbles(d string) string {
	for len(d) < 20 {
		d += "F"
	}
	b := []byte(d)
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	return string(b)
}
