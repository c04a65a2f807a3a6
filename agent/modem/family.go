package modem

import "strings"

// Family groups modules that need the same initialisation and quirks.
type Family int

// Families recognised from AT+CGMI / AT+CGMM.
const (
	FamilyGeneric     Family = iota // any 3GPP TS 27.005/27.007 modem
	FamilySIM800                    // SIMCom SIM800/SIM900/SIM808 (2G)
	FamilySIM7600                   // SIMCom SIM7500/SIM7600 and A76xx (LTE Cat-1/4)
	FamilyQuectelEC2x               // Quectel EC2x, EG2x, EM0x (LTE)
	FamilyQuectelBG9x               // Quectel BG9x (LTE-M/NB-IoT)
)

func (f Family) String() string {
	switch f {
	case FamilySIM800:
		return "simcom-sim800"
	case FamilySIM7600:
		return "simcom-sim7600"
	case FamilyQuectelEC2x:
		return "quectel-ec2x"
	case FamilyQuectelBG9x:
		return "quectel-bg9x"
	}
	return "generic"
}

// LTE reports whether the family registers on LTE, where +CEREG (not +CREG)
// tells whether SMS can arrive.
func (f Family) LTE() bool {
	return f == FamilySIM7600 || f == FamilyQuectelEC2x || f == FamilyQuectelBG9x
}

// DetectFamily picks a family from the manufacturer and model answers
// (AT+CGMI, AT+CGMM). Unknown modules are FamilyGeneric.
func DetectFamily(manufacturer, model string) Family {
	mf := strings.ToUpper(manufacturer)
	md := strings.ToUpper(model)
	switch {
	case strings.Contains(mf, "QUECTEL") || strings.HasPrefix(md, "EC2") || strings.HasPrefix(md, "EG2") ||
		strings.HasPrefix(md, "BG9") || strings.HasPrefix(md, "EM0"):
		if strings.HasPrefix(md, "BG") {
			return FamilyQuectelBG9x
		}
		if strings.HasPrefix(md, "EC") || strings.HasPrefix(md, "EG") || strings.HasPrefix(md, "EM") || strings.HasPrefix(md, "UC") {
			return FamilyQuectelEC2x
		}
		return FamilyGeneric
	case strings.Contains(md, "SIM800") || strings.Contains(md, "SIM900") || strings.Contains(md, "SIM808") ||
		strings.Contains(md, "SIM868"):
		return FamilySIM800
	case strings.Contains(md, "SIM7500") || strings.Contains(md, "SIM7600") || strings.Contains(md, "SIM7800") ||
		strings.Contains(md, "A76") || strings.Contains(md, "A78"):
		return FamilySIM7600
	}
	return FamilyGeneric
}

// storagePreference is the order in which Init tries message memories. SM
// (the SIM) comes first for every family: a message kept on the SIM moves
// with the SIM, and leases are bound to the SIM's ICCID, so a message can
// never be attributed to a different SIM that was put in the same slot
// later. ME/MT are fallbacks for modems whose SIM memory is not offered.
func storagePreference(f Family) []string {
	switch f {
	case FamilySIM800:
		return []string{"SM", "ME"}
	case FamilySIM7600:
		return []string{"SM", "ME"}
	case FamilyQuectelEC2x, FamilyQuectelBG9x:
		return []string{"SM", "ME", "MT"}
	}
	return []string{"SM", "ME", "MT"}
}

// cnmiFallbacks are tried in order until the modem accepts one. <mt>=1 stores
// incoming SMS and announces them with +CMTI (never <mt>=2, which hands them
// over unstored). <ds>=2 asks for +CDSI for status reports; some modems
// (SIM800, see reference/modems-power.md) refuse it, then <ds>=1 or 0. The
// last ones set <bfr>=1 for modems that accept nothing else there (Cinterion
// MC75i answers AT+CNMI=? with (0-3),(0,1),(0,2,3),(0,2),(1), gammu PR #1207).
// When AT+CNMI=? answers, Init skips the variants it rules out.
var cnmiFallbacks = []string{"2,1,0,2,0", "2,1,0,1,0", "2,1,0,0,0", "1,1,0,0,0", "2,1,0,2,1", "2,1,0,0,1"}

// cnmiCandidates filters cnmiFallbacks by the answer to AT+CNMI=? (nil: no
// filtering). If the answer rules out all of them, the full list is returned:
// the answer may be wrong, and trying costs little.
func cnmiCandidates(supported []map[int]bool) []string {
	if supported == nil {
		return cnmiFallbacks
	}
	var out []string
	for _, c := range cnmiFallbacks {
		ok := true
		for i, v := range strings.Split(c, ",") {
			if i < len(supported) && !supported[i][int(v[0]-'0')] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return cnmiFallbacks
	}
	return out
}

// iccidCommands returns the ICCID commands to try, the family's own first.
// AT+CRSM (READ BINARY of EF_ICCID, 2FE2 = 12258) works on any 27.007 modem
// and is the last resort.
func iccidCommands(f Family) []string {
	switch f {
	case FamilySIM800:
		return []string{"AT+CCID", "AT+ICCID", "AT+CRSM=176,12258,0,0,10"}
	case FamilySIM7600:
		return []string{"AT+CICCID", "AT+CCID", "AT+CRSM=176,12258,0,0,10"}
	case FamilyQuectelEC2x, FamilyQuectelBG9x:
		return []string{"AT+QCCID", "AT+CCID", "AT+CRSM=176,12258,0,0,10"}
	}
	return []string{"AT+CCID", "AT+ICCID", "AT+QCCID", "AT+CICCID", "AT+CRSM=176,12258,0,0,10"}
}
