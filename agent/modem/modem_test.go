package modem_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/modem"
	"github.com/ness-network/ness-sms/agent/modem/modemtest"
)

func newModem(t *testing.T, f *modemtest.Fake, cfg modem.Config) *modem.Modem {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	m := modem.New(f, cfg)
	t.Cleanup(func() { m.Close(); f.Close() })
	return m
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string][]string
		want    modem.Identity
	}{
		{
			name: "SIM800 bare CCID",
			answers: map[string][]string{
				"AT+CGMI": {"SIMCOM_Ltd", "OK"}, "AT+CGMM": {"SIMCOM_SIM800L", "OK"},
				"AT+CGMR": {"Revision:1418B04SIM800L24", "OK"}, "AT+CGSN": {"867856030123456", "OK"},
				"AT+CCID": {"89882806660004909182", "OK"}, "AT+CIMI": {"901288000012345", "OK"},
				"AT+CNUM": {"OK"},
			},
			want: modem.Identity{Manufacturer: "SIMCOM_Ltd", Model: "SIMCOM_SIM800L", Firmware: "Revision:1418B04SIM800L24",
				IMEI: "867856030123456", ICCID: "89882806660004909182", IMSI: "901288000012345", Family: modem.FamilySIM800},
		},
		{
			name: "SIM7600 +ICCID with F and own number",
			answers: map[string][]string{
				"AT+CGMI": {"SIMCOM INCORPORATED", "OK"}, "AT+CGMM": {"SIMCOM_SIM7600E-H", "OK"},
				"AT+CGMR": {"+CGMR: LE20B04SIM7600M22", "OK"}, "AT+CGSN": {"862636050123456", "OK"},
				"AT+CICCID": {"+ICCID: 8944500102198304826F", "OK"}, "AT+CIMI": {"234500012345678", "OK"},
				"AT+CNUM": {`+CNUM: "","447700900123",145`, "OK"},
			},
			want: modem.Identity{Manufacturer: "SIMCOM INCORPORATED", Model: "SIMCOM_SIM7600E-H", Firmware: "LE20B04SIM7600M22",
				IMEI: "862636050123456", ICCID: "8944500102198304826", IMSI: "234500012345678", Number: "+447700900123",
				Family: modem.FamilySIM7600},
		},
		{
			name: "EC25 +QCCID",
			answers: map[string][]string{
				"AT+CGMI": {"Quectel", "OK"}, "AT+CGMM": {"EC25", "OK"}, "AT+CGMR": {"EC25EFAR06A03M4G", "OK"},
				"AT+CGSN": {"866758041234567", "OK"}, "AT+QCCID": {"+QCCID: 89860318740280003545", "OK"},
				"AT+CIMI": {"460031234567890", "OK"}, "AT+CNUM": {"+CME ERROR: 4"},
			},
			want: modem.Identity{Manufacturer: "Quectel", Model: "EC25", Firmware: "EC25EFAR06A03M4G",
				IMEI: "866758041234567", ICCID: "89860318740280003545", IMSI: "460031234567890", Family: modem.FamilyQuectelEC2x},
		},
		{
			name: "generic falls back to CRSM",
			answers: map[string][]string{
				"AT+CGMI": {"huawei", "OK"}, "AT+CGMM": {"E1752", "OK"}, "AT+CGMR": {"11.126.13.00.00", "OK"},
				"AT+CGSN": {"111111111111111", "OK"}, "AT+CCID": {"COMMAND NOT SUPPORT"},
				"AT+CRSM=176,12258,0,0,10": {`+CRSM: 144,0,"98101430121181157002"`, "OK"},
				"AT+CIMI":                  {"111111111111111", "OK"}, "AT+CNUM": {"OK"},
			},
			want: modem.Identity{Manufacturer: "huawei", Model: "E1752", Firmware: "11.126.13.00.00",
				IMEI: "111111111111111", ICCID: "89014103211118510720", IMSI: "111111111111111", Family: modem.FamilyGeneric},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := modemtest.New()
			for cmd, reply := range tt.answers {
				f.Answer(cmd, reply...)
			}
			m := newModem(t, f, modem.Config{})
			got, err := m.Identify(context.Background())
			if err != nil {
				t.Fatalf("Identify: %v (commands %q)", err, f.Commands())
			}
			if got != tt.want {
				t.Fatalf("Identify:\n got %+v\nwant %+v", got, tt.want)
			}
			if m.Family() != tt.want.Family {
				t.Fatalf("Family: got %v, want %v", m.Family(), tt.want.Family)
			}
		})
	}
}

func TestIdentifyWithoutSIM(t *testing.T) {
	f := modemtest.New()
	f.Answer("AT+CGMI", "Quectel", "OK")
	f.Answer("AT+CGMM", "EG25", "OK")
	f.Answer("AT+CGMR", "EG25GGBR07A08M2G", "OK")
	f.Answer("AT+CGSN", "866758041234567", "OK")
	f.Answer("AT+QCCID", "+CME ERROR: 10")
	f.Answer("AT+CIMI", "+CME ERROR: 10")
	f.Answer("AT+CNUM", "+CME ERROR: 10")
	m := newModem(t, f, modem.Config{})
	got, err := m.Identify(context.Background())
	var cme *modem.CMEError
	if !errors.As(err, &cme) || cme.Code != modem.CMESIMNotInserted {
		t.Fatalf("Identify without SIM: got err %v, want +CME ERROR 10", err)
	}
	if got.IMEI != "866758041234567" || got.ICCID != "" || got.Family != modem.FamilyQuectelEC2x {
		t.Fatalf("Identify without SIM: got %+v, want IMEI and family, no ICCID", got)
	}
	if slices.Contains(f.Commands(), "AT+CRSM=176,12258,0,0,10") {
		t.Fatalf("kept trying ICCID commands after SIM not inserted: %q", f.Commands())
	}
}

func TestDetectFamily(t *testing.T) {
	tests := []struct {
		mf, md string
		want   modem.Family
	}{
		{"SIMCOM_Ltd", "SIMCOM_SIM800L", modem.FamilySIM800},
		{"SIMCOM_Ltd", "SIMCOM_SIM900", modem.FamilySIM800},
		{"SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", modem.FamilySIM7600},
		{"SIMCOM INCORPORATED", "A7670E-LASE", modem.FamilySIM7600},
		{"Quectel", "EC25", modem.FamilyQuectelEC2x},
		{"Quectel", "EG25", modem.FamilyQuectelEC2x},
		{"Quectel", "BG96", modem.FamilyQuectelBG9x},
		{"huawei", "E1752", modem.FamilyGeneric},
		{"WAVECOM MODEM", "MULTIBAND  900E  1800", modem.FamilyGeneric},
	}
	for _, tt := range tests {
		if got := modem.DetectFamily(tt.mf, tt.md); got != tt.want {
			t.Errorf("DetectFamily(%q, %q): got %v, want %v", tt.mf, tt.md, got, tt.want)
		}
	}
}

func TestInitSIM800RefusesDS2(t *testing.T) {
	f := modemtest.New()
	f.Answer("AT+CGMI", "SIMCOM_Ltd", "OK")
	f.Answer("AT+CGMM", "SIMCOM_SIM800L", "OK")
	f.Answer("AT+CMEE=1", "OK")
	f.Answer("AT+CMGF=0", "OK")
	f.Answer("AT+CPMS=?", `+CPMS: ("SM","ME","SM_P","ME_P","MT"),("SM","ME","SM_P","ME_P","MT"),("SM","ME","SM_P","ME_P","MT")`, "OK")
	f.Answer(`AT+CPMS="SM","SM","SM"`, "+CPMS: 2,30,2,30,2,30", "OK")
	// AT+CNMI=? says +CNMI: (0-3),(0-3),(0,2),(0,1),(0,1): <ds>=2 is refused.
	f.Answer("AT+CNMI=2,1,0,2,0", "+CME ERROR: 3")
	f.Answer("AT+CNMI=2,1,0,1,0", "OK")
	f.Answer("AT+CREG=2", "OK")
	m := newModem(t, f, modem.Config{})
	got, err := m.Init(context.Background())
	if err != nil {
		t.Fatalf("Init: %v (commands %q)", err, f.Commands())
	}
	want := modem.Settings{Family: modem.FamilySIM800, Storage: "SM", Fill: modem.MemStatus{Name: "SM", Used: 2, Total: 30}, CNMI: "2,1,0,1,0"}
	if got.Family != want.Family || got.Storage != want.Storage || got.Fill != want.Fill || got.CNMI != want.CNMI {
		t.Fatalf("Init: got %+v, want %+v", got, want)
	}
	wantCmds := []string{"ATE0", "AT+CMEE=1", "AT+CGMI", "AT+CGMM", "AT+CMGF=0", "AT+CPMS=?",
		`AT+CPMS="SM","SM","SM"`, "AT+CNMI=?", "AT+CNMI=2,1,0,2,0", "AT+CNMI=2,1,0,1,0", "AT+CREG=2"}
	if cmds := f.Commands(); !slices.Equal(cmds, wantCmds) {
		t.Fatalf("Init commands:\n got %q\nwant %q", cmds, wantCmds)
	}
	if m.Storage() != "SM" {
		t.Fatalf("Storage: got %q, want SM", m.Storage())
	}
}

func TestInitStorageFallbacks(t *testing.T) {
	tests := []struct {
		name    string
		test    []string // answer to AT+CPMS=?
		refuse  []string // AT+CPMS= commands answered ERROR
		want    string
		wantErr bool
	}{
		{"SM offered", []string{`+CPMS: ("ME","MT","SM","SR"),("ME","MT","SM","SR"),("ME","MT","SM","SR")`, "OK"}, nil, "SM", false},
		{"no SM for receiving", []string{`+CPMS: ("ME","SM","MT"),("ME","SM","MT"),("ME","MT")`, "OK"}, nil, "ME", false},
		{"SM refused", []string{`+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")`, "OK"}, []string{`AT+CPMS="SM","SM","SM"`}, "ME", false},
		{"nothing usable", []string{`+CPMS: ("BM","SR"),("BM"),("BM")`, "OK"}, nil, "", true},
		{"two memories (Wavecom)", []string{`+CPMS: (("SM","BM","SR"),("SM"))`, "OK"}, nil, "SM", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := modemtest.New()
			f.Answer("AT+CGMI", "Quectel", "OK")
			f.Answer("AT+CGMM", "EC25", "OK")
			f.Answer("AT+CMEE=1", "OK")
			f.Answer("AT+CMGF=0", "OK")
			f.Answer("AT+CPMS=?", tt.test...)
			for _, mem := range []string{"SM", "ME", "MT"} {
				f.Answer(`AT+CPMS="`+mem+`","`+mem+`","`+mem+`"`, "+CPMS: 0,50,0,50,0,50", "OK")
				f.Answer(`AT+CPMS="`+mem+`","`+mem+`"`, "+CPMS: 14,50,14,50", "OK")
			}
			for _, r := range tt.refuse {
				f.Answer(r, "+CMS ERROR: 302")
			}
			f.Answer("AT+CNMI=2,1,0,2,0", "OK")
			f.Answer("AT+CREG=2", "OK")
			f.Answer("AT+CEREG=2", "OK")
			m := newModem(t, f, modem.Config{})
			got, err := m.Init(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Init: got err %v, want error=%v (commands %q)", err, tt.wantErr, f.Commands())
			}
			if got.Storage != tt.want {
				t.Fatalf("Init storage: got %q, want %q (commands %q)", got.Storage, tt.want, f.Commands())
			}
		})
	}
}

func TestInitFailsWhenNoCNMIAccepted(t *testing.T) {
	f := modemtest.New()
	f.Answer("AT+CGMI", "Nokia", "OK")
	f.Answer("AT+CGMM", "Nokia N79", "OK")
	f.Answer("AT+CMEE=1", "OK")
	f.Answer("AT+CMGF=0", "OK")
	f.Answer("AT+CPMS=?", `+CPMS: ("SM"),("SM"),("SM")`, "OK")
	f.Answer(`AT+CPMS="SM","SM","SM"`, "+CPMS: 0,10,0,10,0,10", "OK")
	m := newModem(t, f, modem.Config{})
	_, err := m.Init(context.Background())
	if !errors.Is(err, modem.ErrError) {
		t.Fatalf("Init with every AT+CNMI refused: got %v, want ErrError", err)
	}
	var n int
	for _, c := range f.Commands() {
		if len(c) > 8 && c[:8] == "AT+CNMI=" && c != "AT+CNMI=?" {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("AT+CNMI attempts: got %d, want 6 (commands %q)", n, f.Commands())
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string][]string
		dbm     int
		reg     modem.RegState
		sim     modem.SIMState
		op      string
		fill    modem.MemStatus
	}{
		{
			name: "roaming",
			answers: map[string][]string{
				"AT+CSQ": {"+CSQ: 17,99", "OK"}, "AT+CPIN?": {"+CPIN: READY", "OK"},
				"AT+CREG?": {`+CREG: 2,5,"1A2B","00C1"`, "OK"}, "AT+COPS?": {`+COPS: 0,0,"Vodafone NL",0`, "OK"},
				"AT+CPMS?": {`+CPMS: "SM",3,30,"SM",3,30,"SM",3,30`, "OK"},
			},
			dbm: -79, reg: modem.RegRoaming, sim: modem.SIMReady, op: "Vodafone NL", fill: modem.MemStatus{Name: "SM", Used: 3, Total: 30},
		},
		{
			name: "no SIM",
			answers: map[string][]string{
				"AT+CSQ": {"+CSQ: 99,99", "OK"}, "AT+CPIN?": {"+CME ERROR: 10"},
				"AT+CREG?": {"+CREG: 0,0", "OK"}, "AT+CEREG?": {"+CEREG: 0,0", "OK"}, "AT+COPS?": {"+COPS: 0", "OK"},
				"AT+CPMS?": {`+CPMS: "ME",0,23,"ME",0,23,"ME",0,23`, "OK"},
			},
			dbm: 0, reg: modem.RegNotRegistered, sim: modem.SIMNotInserted, op: "", fill: modem.MemStatus{Name: "ME", Used: 0, Total: 23},
		},
		{
			name: "LTE only: CREG searching, CEREG home",
			answers: map[string][]string{
				"AT+CSQ": {"+CSQ: 25,99", "OK"}, "AT+CPIN?": {"+CPIN: SIM PIN", "OK"},
				"AT+CREG?": {"+CREG: 0,2", "OK"}, "AT+CEREG?": {`+CEREG: 2,1,"61EA","A1A9566",7`, "OK"},
				"AT+COPS?": {`+COPS: 0,2,"25099",7`, "OK"}, "AT+CPMS?": {`+CPMS: "SM",30,30,"SM",30,30,"SM",30,30`, "OK"},
			},
			dbm: -63, reg: modem.RegHome, sim: modem.SIMPIN, op: "25099", fill: modem.MemStatus{Name: "SM", Used: 30, Total: 30},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := modemtest.New()
			for cmd, reply := range tt.answers {
				f.Answer(cmd, reply...)
			}
			m := newModem(t, f, modem.Config{})
			h, err := m.Health(context.Background())
			if err != nil {
				t.Fatalf("Health: %v", err)
			}
			if h.Signal.DBm != tt.dbm || h.Registration.State != tt.reg || h.SIM != tt.sim || h.Operator.Name != tt.op || h.Storage[0] != tt.fill {
				t.Fatalf("Health: got %d dBm, %v, SIM %q, operator %q, fill %+v; want %d, %v, %q, %q, %+v",
					h.Signal.DBm, h.Registration.State, h.SIM, h.Operator.Name, h.Storage[0], tt.dbm, tt.reg, tt.sim, tt.op, tt.fill)
			}
		})
	}
}

func TestReadListDelete(t *testing.T) {
	f := modemtest.New()
	f.SetEcho(false)
	f.Answer("AT+CMGL=4", "+CMGL: 1,1,,30", howAreYou, "+CMGL: 4,0,,30", howAreYou, "OK")
	f.Answer("AT+CMGR=4", "+CMGR: 0,,30", howAreYou, "OK")
	f.Answer("AT+CMGR=9", "+CMS ERROR: 321")
	f.Answer("AT+CMGR=2", "OK")
	f.Answer("AT+CMGD=4", "OK")
	m := newModem(t, f, modem.Config{})
	ctx := context.Background()
	list, err := m.ListAll(ctx)
	if err != nil || len(list) != 2 || list[0].Index != 1 || list[1].Index != 4 || list[1].Status != modem.StatusReceivedUnread {
		t.Fatalf("ListAll: got %+v, %v", list, err)
	}
	e, err := m.Read(ctx, 4)
	if err != nil || e.Err != nil || len(e.PDU) != 38 || e.Index != 4 {
		t.Fatalf("Read(4): got %+v, %v", e, err)
	}
	var cms *modem.CMSError
	if _, err := m.Read(ctx, 9); !errors.As(err, &cms) || cms.Code != modem.CMSInvalidMemoryIndex {
		t.Fatalf("Read(9): got %v, want +CMS ERROR 321", err)
	}
	if _, err := m.Read(ctx, 2); !errors.Is(err, modem.ErrNoMessage) {
		t.Fatalf("Read(2) of an empty index: got %v, want ErrNoMessage", err)
	}
	if err := m.Delete(ctx, 4); err != nil {
		t.Fatalf("Delete(4): %v", err)
	}
	if err := m.Delete(ctx, 5); !errors.Is(err, modem.ErrError) {
		t.Fatalf("Delete(5) refused: got %v, want ErrError", err)
	}
}

func TestEvents(t *testing.T) {
	f := modemtest.New()
	events := make(chan modem.Event, 16)
	newModem(t, f, modem.Config{OnEvent: func(e modem.Event) { events <- e }})
	f.Send("RDY", "+CPIN: READY", "SMS DONE", `+CMTI: "SM",7`, "+CMT: ,30", howAreYou,
		`+CEREG: 1,"61EA","A1A9566",7`, "+QIND: SMS DONE", "NORMAL POWER DOWN", `+CMTI: "SM",x`)
	want := []modem.EventKind{modem.EventReady, modem.EventSIM, modem.EventSMSReady, modem.EventNewMessage,
		modem.EventMessage, modem.EventRegistration, modem.EventSMSReady, modem.EventPowerDown, modem.EventNewMessage}
	var got []modem.Event
	for range want {
		select {
		case e := <-events:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d events, want %d", len(got), len(want))
		}
	}
	for i, w := range want {
		if got[i].Kind != w {
			t.Errorf("event %d (%q): got %v, want %v", i, got[i].URC.Line, got[i].Kind, w)
		}
	}
	if got[1].SIM != modem.SIMReady {
		t.Errorf("+CPIN event: got SIM %q, want READY", got[1].SIM)
	}
	if got[3].Storage != "SM" || got[3].Index != 7 || got[3].Err != nil {
		t.Errorf("+CMTI event: got %+v, want SM 7", got[3])
	}
	if len(got[4].PDU) != 38 || got[4].Err != nil {
		t.Errorf("+CMT event: got %d octets, err %v; want 38", len(got[4].PDU), got[4].Err)
	}
	if got[5].Registration.State != modem.RegHome || got[5].Registration.AcT != 7 {
		t.Errorf("+CEREG event: got %+v, want home AcT 7", got[5].Registration)
	}
	if got[8].Err == nil || got[8].Index != -1 {
		t.Errorf("malformed +CMTI: got %+v, want Err and index -1", got[8])
	}
}
