package emercoin

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Chap is a parsed RANDPAY challenge, "amount:risk:hex" as randpay_mkchap returns it.
type Chap struct {
	Amount Amount
	Risk   uint32
	// Base is the 160-bit integer of the hex part, floor(X/risk): the payee's key hash X lies in
	// [Base·Risk, Base·Risk+Risk).
	Base *big.Int
}

// String formats c as the node does: FormatMoney(amount):risk:40 lowercase hex.
func (c Chap) String() string {
	return FormatMoney(c.Amount) + ":" + strconv.FormatUint(uint64(c.Risk), 10) + ":" + fmt.Sprintf("%040x", c.Base)
}

// ChapError is a challenge randpay_mktx would refuse; Message is the node's own (-3).
type ChapError struct{ Message string }

func (e *ChapError) Error() string { return "randpay chap: " + e.Message }

var two160 = new(big.Int).Lsh(big.NewInt(1), 160)

// ParseChap parses a challenge with randpay_mktx's rules (at most 79 characters are read).
func ParseChap(s string) (Chap, error) {
	if len(s) > 79 {
		s = s[:79]
	}
	amtS, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Chap{}, &ChapError{"Invalid chap format, must be amount[:]dec:hex"}
	}
	riskS, hexS, ok := strings.Cut(rest, ":")
	if !ok {
		return Chap{}, &ChapError{"Invalid chap format, must be amount:dec[:]hex"}
	}
	amt, err := ParseAmount(amtS)
	if err != nil || amt <= 0 {
		return Chap{}, &ChapError{"Invalid amount for send"}
	}
	risk, err := strconv.ParseUint(riskS, 10, 32)
	if err != nil {
		return Chap{}, &ChapError{"Invalid chap format, must be amount:dec[:]hex"}
	}
	if risk == 0 {
		return Chap{}, &ChapError{"Invalid chap, risk must not be zero"}
	}
	if len(hexS) == 0 || len(hexS) > 40 {
		return Chap{}, &ChapError{"Invalid chap format, must be amount:dec[:]hex"}
	}
	q, ok := new(big.Int).SetString(hexS, 16)
	if !ok || q.Sign() < 0 || strings.ContainsAny(hexS, "+-xX_") {
		return Chap{}, &ChapError{"Invalid chap format, must be amount:dec[:]hex"}
	}
	// The payer's address risk·Base + rand(risk) must fit in 160 bits.
	top := new(big.Int).Mul(q, new(big.Int).SetUint64(risk))
	top.Add(top, new(big.Int).SetUint64(risk-1))
	if top.Cmp(two160) >= 0 {
		return Chap{}, &ChapError{"Invalid chap format, must be amount:dec[:]hex"}
	}
	return Chap{Amount: amt, Risk: uint32(risk), Base: q}, nil
}
