package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	goodKey = "kRV+muL/oKQB9hQpTxqxO7gHq/c2L4IJXycnHf+LcyM="
	goodSig = "wPx1M0gGxvS+v/4yyNwuIXsy9AtKnYhNxN7FNzj7orbRsBDwYjOeaTy8tc5fVH2V7EKlOZTr1iTYtnXfOP0RBg=="
)

// TestDecodeStrict: every request decoder refuses unknown fields, wrong types, trailing data,
// oversized bodies and invalid values, naming the field.
func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name      string
		into      func() any
		body      string
		wantKind  Kind
		wantField string
	}{
		{"token ok", func() any { return new(TokenRequest) }, `{"key":"` + goodKey + `","challenge":"` + goodKey + `","signature":"` + goodSig + `"}`, "", ""},
		{"token unknown field", func() any { return new(TokenRequest) }, `{"key":"` + goodKey + `","challenge":"` + goodKey + `","signature":"` + goodSig + `","admin":true}`, KindInvalid, "admin"},
		{"token trailing data", func() any { return new(TokenRequest) }, `{"key":"` + goodKey + `","challenge":"` + goodKey + `","signature":"` + goodSig + `"} {}`, KindInvalid, "body"},
		{"token short key", func() any { return new(TokenRequest) }, `{"key":"AAAA","challenge":"` + goodKey + `","signature":"` + goodSig + `"}`, KindInvalid, "key"},
		{"token wrong type", func() any { return new(TokenRequest) }, `{"key":1}`, KindInvalid, "key"},
		{"token array", func() any { return new(TokenRequest) }, `[]`, KindInvalid, "body"},
		{"empty", func() any { return new(TokenRequest) }, ``, KindInvalid, "body"},
		{"truncated", func() any { return new(TokenRequest) }, `{"key":`, KindInvalid, "body"},
		{"rental ok", func() any { return new(RentalRequest) }, `{"number":"+4915100000001","duration":"weekly","renter_key":"` + goodKey + `"}`, "", ""},
		{"rental bad duration", func() any { return new(RentalRequest) }, `{"number":"+4915100000001","duration":"yearly","renter_key":"` + goodKey + `"}`, KindInvalid, "duration"},
		{"rental bad number", func() any { return new(RentalRequest) }, `{"number":"4915100000001","duration":"daily","renter_key":"` + goodKey + `"}`, KindInvalid, "number"},
		{"rental missing key", func() any { return new(RentalRequest) }, `{"number":"+4915100000001","duration":"daily"}`, KindInvalid, "renter_key"},
		{"extend ok", func() any { return new(ExtendRequest) }, `{"duration":"monthly"}`, "", ""},
		{"extend null", func() any { return new(ExtendRequest) }, `null`, KindInvalid, "body"},
		{"webhook ok", func() any { return new(WebhookRequest) }, `{"url":"https://example.org/h"}`, "", ""},
		{"webhook ftp", func() any { return new(WebhookRequest) }, `{"url":"ftp://example.org/h"}`, KindInvalid, "url"},
		{"webhook credentials", func() any { return new(WebhookRequest) }, `{"url":"https://u:p@example.org/h"}`, KindInvalid, "url"},
		{"number ok", func() any { return new(NumberRequest) }, `{"number":"+4915100000001","agent":"0123456789abcdef0123456789abcdef","iccid":"8949000000000000001","country":"DE","features":["sms"],"prices":{"day":"0.5","week":"3","month":"10","sms":"0.01"}}`, "", ""},
		{"number 7 decimals", func() any { return new(NumberRequest) }, `{"number":"+4915100000001","agent":"0123456789abcdef0123456789abcdef","iccid":"8949000000000000001","country":"DE","prices":{"day":"0.0000001","week":"3","month":"10","sms":"0"}}`, KindInvalid, "prices.day"},
		{"number negative price", func() any { return new(NumberRequest) }, `{"number":"+4915100000001","agent":"0123456789abcdef0123456789abcdef","iccid":"8949000000000000001","country":"DE","prices":{"day":"1","week":"-3","month":"10","sms":"0"}}`, KindInvalid, "prices.week"},
		{"number nested unknown", func() any { return new(NumberRequest) }, `{"prices":{"hour":"1"}}`, KindInvalid, "hour"},
		{"number lower-case country", func() any { return new(NumberRequest) }, `{"number":"+4915100000001","agent":"0123456789abcdef0123456789abcdef","iccid":"8949000000000000001","country":"de","prices":{"day":"1","week":"1","month":"1","sms":"0"}}`, KindInvalid, "country"},
		{"patch empty", func() any { return new(NumberPatch) }, `{}`, KindInvalid, "body"},
		{"patch price", func() any { return new(NumberPatch) }, `{"prices":{"day":"2"}}`, "", ""},
		{"patch bad price", func() any { return new(NumberPatch) }, `{"prices":{"sms":"x"}}`, KindInvalid, "prices.sms"},
		{"agent missing cert", func() any { return new(AgentRequest) }, `{}`, KindInvalid, "certificate"},
		{"emercoin ok", func() any { return new(EmercoinTokenRequest) }, `{"address":"EXyz","challenge":"` + goodKey + `","signature":"abc"}`, "", ""},
		{"emercoin bad challenge", func() any { return new(EmercoinTokenRequest) }, `{"address":"EXyz","challenge":"abc","signature":"abc"}`, KindInvalid, "challenge"},
		{"too large", func() any { return new(ExtendRequest) }, `{"duration":"` + strings.Repeat("d", 2000) + `"}`, KindTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeJSON([]byte(tc.body), 1<<10, tc.into())
			if tc.wantKind == "" {
				if err != nil {
					t.Fatalf("decode %s: got %v, want nil", tc.body, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("decode %s: got %v, want an *Error of kind %s", tc.body, err, tc.wantKind)
			}
			if e.Kind != tc.wantKind || e.Field != tc.wantField {
				t.Errorf("decode %s: got kind %s field %q (%v), want %s field %q", tc.body, e.Kind, e.Field, e, tc.wantKind, tc.wantField)
			}
		})
	}
}

// fuzzDecode checks a decoder on arbitrary bytes: it never panics, every error is an *Error
// of kind invalid_request or too_large, and a value it accepts re-encodes to JSON that decodes
// to the same value.
func fuzzDecode[T any](f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := new(T)
		err := decodeJSON(data, 4<<10, v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Kind != KindInvalid && e.Kind != KindTooLarge) {
				t.Fatalf("decode %q: got %v, want an invalid_request or too_large *Error", data, err)
			}
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		w := new(T)
		if err := decodeJSON(b, 1<<20, w); err != nil {
			t.Fatalf("decode of re-encoded %s: %v", b, err)
		}
		if !reflect.DeepEqual(v, w) && !bytes.Equal(b, mustJSON(t, w)) {
			t.Fatalf("round trip: %+v became %+v", v, w)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzTokenRequest(f *testing.F) {
	fuzzDecode[TokenRequest](f, `{"key":"`+goodKey+`","challenge":"`+goodKey+`","signature":"`+goodSig+`"}`, `{"key":1}`)
}

func FuzzEmercoinTokenRequest(f *testing.F) {
	fuzzDecode[EmercoinTokenRequest](f, `{"address":"EXyz","challenge":"`+goodKey+`","signature":"abc"}`)
}

func FuzzRentalRequest(f *testing.F) {
	fuzzDecode[RentalRequest](f, `{"number":"+4915100000001","duration":"weekly","renter_key":"`+goodKey+`"}`)
}

func FuzzExtendRequest(f *testing.F) { fuzzDecode[ExtendRequest](f, `{"duration":"daily"}`) }

func FuzzWebhookRequest(f *testing.F) {
	fuzzDecode[WebhookRequest](f, `{"url":"https://example.org/h","rental":"rnt_1"}`)
}

func FuzzNumberRequest(f *testing.F) {
	fuzzDecode[NumberRequest](f, `{"number":"+4915100000001","agent":"0123456789abcdef0123456789abcdef","iccid":"8949000000000000001","country":"DE","features":["sms"],"prices":{"day":"0.5","week":"3","month":"10","sms":"0.01"}}`)
}

func FuzzNumberPatch(f *testing.F) {
	fuzzDecode[NumberPatch](f, `{"prices":{"day":"2"},"features":["sms"]}`)
}

func FuzzAgentRequest(f *testing.F) { fuzzDecode[AgentRequest](f, `{"certificate":{"v":1}}`) }
