package pdu

import "github.com/warthog618/sms/encoding/gsm7/charset"

// warthog618/sms builds its GSM 7-bit tables lazily, on first use, into package variables with no
// synchronisation: two goroutines decoding their first SMS at once race (go test -race finds it
// between the pipeline's seal workers, and between them and the slots' CheckPDU). Building every
// table once here, before any goroutine can decode, makes later use read-only.
func init() {
	charset.DefaultDecoder()
	charset.DefaultExtDecoder()
	charset.DefaultEncoder()
	charset.DefaultExtEncoder()
	for nli := charset.Default; nli <= charset.Urdu; nli++ {
		charset.NewDecoder(nli)
		charset.NewExtDecoder(nli)
		charset.NewEncoder(nli)
		charset.NewExtEncoder(nli)
	}
}
