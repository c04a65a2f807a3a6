package modemsim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Model describes how one kind of GSM module looks and behaves on its AT port and power pins.
// Timing values come from reference/modems-power.md; each says where it was taken from.
type Model struct {
	Name string // short name used on the command line: sim7600, ec25, sim800

	Manufacturer string   // AT+CGMI
	ModelID      string   // AT+CGMM
	Revision     string   // AT+CGMR (without any prefix)
	RevisionLine string   // the full AT+CGMR answer line
	ATI          []string // ATI answer lines; "{imei}" is replaced by the slot's IMEI
	TAC          string   // first 8 IMEI digits (type allocation code)

	// ICCIDCommand is the vendor command that reads the ICCID (+CCID, +CICCID, +QCCID) and
	// ICCIDPrefix what precedes the digits in its answer ("" for a bare line).
	ICCIDCommand string
	ICCIDPrefix  string

	// PowerOnMin is the shortest PWRKEY pulse that switches the module on, PowerOffMin the
	// shortest that switches it off. ForceOnAfter > 0 means a pulse longer than it, given while
	// the module is on, powers it down and up again (SIM800: held over 33 s).
	PowerOnMin   time.Duration
	PowerOffMin  time.Duration
	ForceOnAfter time.Duration
	// AutoBoot is true for a module that starts as soon as its supply comes up, without a
	// PWRKEY pulse. None of the bundled models do (all three need PWRKEY pulled low).
	AutoBoot bool

	BootURCs        []string // printed when the module becomes ready after power-up or reset
	NoSIMBootURCs   []string // printed instead when the SIM is missing (fault nosim)
	PowerDownURC    string   // printed when switched off by PWRKEY or the software power-off command
	PowerOffCommand string   // software power-off command (+CPOF, +CPOWD, +QPOWD)

	// CNMIRanges are the accepted values of AT+CNMI's five parameters, as AT+CNMI=? lists them.
	CNMIRanges [5][]int
	CNMITest   string
	HasCEREG   bool // LTE modules answer AT+CEREG; the 2G SIM800 does not
	COPSAcT    int  // access technology in +COPS answers; -1 for none (2G modules omit it)

	// IndexBase is the index of the first storage location. SIMCom LTE and Quectel modules count
	// from 0 (mbed-os PR 11249 for Quectel), SIM800 from 1.
	IndexBase int
	// EmptyAlpha is how the module prints the empty <alpha> field of +CMGL/+CMGR in PDU mode.
	EmptyAlpha string
	// Storages lists the message storages AT+CPMS accepts.
	Storages []string
}

var models = map[string]Model{
	"sim7600": {
		Name:         "sim7600",
		Manufacturer: "SIMCOM INCORPORATED",
		ModelID:      "SIMCOM_SIM7600E-H",
		Revision:     "LE20B04SIM7600M22",
		RevisionLine: "+CGMR: LE20B04SIM7600M22",
		ATI: []string{"Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
			"Revision: SIM7600M22_V2.0", "IMEI: {imei}", "+GCAP: +CGSM"},
		TAC:          "86207503",
		ICCIDCommand: "+CICCID",
		ICCIDPrefix:  "+ICCID: ",
		// LilyGO T-SIM7600X powers on with 300 ms (the shortest known-to-work value; Waveshare
		// uses 600 ms, Zephyr A76XX 500 ms) and off with 2600 ms (Waveshare 3 s).
		PowerOnMin:      300 * time.Millisecond,
		PowerOffMin:     2500 * time.Millisecond,
		BootURCs:        []string{"RDY", "+CPIN: READY", "SMS DONE", "PB DONE"},
		NoSIMBootURCs:   []string{"RDY", "+CPIN: NOT INSERTED"},
		PowerDownURC:    "NORMAL POWER DOWN",
		PowerOffCommand: "+CPOF",
		CNMIRanges:      [5][]int{{0, 1, 2}, {0, 1, 2, 3}, {0, 2}, {0, 1, 2}, {0, 1}},
		CNMITest:        "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
		HasCEREG:        true,
		COPSAcT:         7,
		IndexBase:       0,
		EmptyAlpha:      `""`,
		Storages:        []string{"SM", "ME"},
	},
	"ec25": {
		Name:         "ec25",
		Manufacturer: "Quectel",
		ModelID:      "EC25",
		Revision:     "EC25EFAR06A06M4G",
		RevisionLine: "Revision: EC25EFAR06A06M4G",
		ATI:          []string{"Quectel", "EC25", "Revision: EC25EFAR06A06M4G"},
		TAC:          "86669103",
		ICCIDCommand: "+QCCID",
		ICCIDPrefix:  "+QCCID: ",
		// Field report: 500 ms low pulse powers an EG25-G on (Mbed OS uses 600 ms). oFono gives
		// a power-off minimum of 600-700 ms and uses 750 ms (Mbed OS too).
		PowerOnMin:      500 * time.Millisecond,
		PowerOffMin:     650 * time.Millisecond,
		BootURCs:        []string{"RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"},
		NoSIMBootURCs:   []string{"RDY", "+CFUN: 1", "+CPIN: NOT INSERTED"},
		PowerDownURC:    "POWERED DOWN",
		PowerOffCommand: "+QPOWD",
		CNMIRanges:      [5][]int{{0, 1, 2}, {0, 1, 2, 3}, {0, 2}, {0, 1, 2}, {0, 1}},
		CNMITest:        "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
		HasCEREG:        true,
		COPSAcT:         7,
		IndexBase:       0,
		EmptyAlpha:      "",
		Storages:        []string{"SM", "ME"},
	},
	"sim800": {
		Name:         "sim800",
		Manufacturer: "SIMCOM_Ltd",
		ModelID:      "SIMCOM_SIM800L",
		Revision:     "1418B04SIM800L24",
		RevisionLine: "Revision:1418B04SIM800L24",
		ATI:          []string{"SIM800 R14.18"},
		TAC:          "86523303",
		ICCIDCommand: "+CCID",
		ICCIDPrefix:  "",
		// Drivers hold PWRKEY 1-1.2 s to power on (SIM800 HD V1.05: "at least 1 second"); power
		// off needs at least 1.5 s (HD V1.09) and a press over 33 s powers it back up.
		PowerOnMin:      time.Second,
		PowerOffMin:     1500 * time.Millisecond,
		ForceOnAfter:    33 * time.Second,
		BootURCs:        []string{"RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"},
		NoSIMBootURCs:   []string{"RDY", "+CFUN: 1", "+CPIN: NOT INSERTED"},
		PowerDownURC:    "NORMAL POWER DOWN",
		PowerOffCommand: "+CPOWD",
		// A real SIM800L answers AT+CNMI=? with (0-3),(0-3),(0,2),(0,1),(0,1): <ds>=2 is refused
		// (python-gsmmodem issue 60).
		CNMIRanges: [5][]int{{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 2}, {0, 1}, {0, 1}},
		CNMITest:   "+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)",
		HasCEREG:   false,
		COPSAcT:    -1,
		IndexBase:  1,
		EmptyAlpha: `""`,
		Storages:   []string{"SM", "ME"},
	},
}

// ModelByName returns the model with the given name (case-insensitive).
func ModelByName(name string) (Model, error) {
	m, ok := models[strings.ToLower(name)]
	if !ok {
		return Model{}, fmt.Errorf("unknown modem model %q (known: %s)", name, strings.Join(ModelNames(), ", "))
	}
	return m, nil
}

// ModelNames lists the names of all bundled models, sorted.
func ModelNames() []string {
	var names []string
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
