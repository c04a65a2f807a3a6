package httpapi

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/wire"
)

// Prices are EMC amounts as decimal strings with six decimals ("1.500000").
type Prices struct {
	Day   string `json:"day"`
	Week  string `json:"week"`
	Month string `json:"month"`
	SMS   string `json:"sms"`
}

func pricesOf(n hub.Number) Prices {
	return Prices{Day: n.PricePerDay.String(), Week: n.PricePerWeek.String(), Month: n.PricePerMonth.String(), SMS: n.PricePerSMS.String()}
}

// NumberView is a number in the catalogue.
type NumberView struct {
	Number   string   `json:"number"`
	Country  string   `json:"country"`
	Features []string `json:"features"`
	Prices   Prices   `json:"prices"`
	// Reputation is 0-100. Until providers' on-chain reputation exists it is the health of the
	// SIM's slot: agent online 50, slot ready 30, registered (home or roaming) 20.
	Reputation int    `json:"reputation"`
	Available  bool   `json:"available"`
	Agent      string `json:"agent"`

	priceDay hub.Micro
}

// NumberList is a page of numbers.
type NumberList struct {
	Numbers []NumberView `json:"numbers"`
	Next    string       `json:"next,omitempty"` // pass as ?cursor= for the next page; absent on the last
}

type numberCursor struct {
	PriceDay   int64  `json:"p"`
	Reputation int    `json:"r"`
	Number     string `json:"n"`
}

var numberSorts = map[string]func(a, b NumberView) int{
	"number":      func(a, b NumberView) int { return 0 },
	"price":       func(a, b NumberView) int { return cmp.Compare(a.priceDay, b.priceDay) },
	"-price":      func(a, b NumberView) int { return cmp.Compare(b.priceDay, a.priceDay) },
	"reputation":  func(a, b NumberView) int { return cmp.Compare(a.Reputation, b.Reputation) },
	"-reputation": func(a, b NumberView) int { return cmp.Compare(b.Reputation, a.Reputation) },
}

func parseLimit(q url.Values, def, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fieldError("limit", "want 1..%d", max)
	}
	return n, nil
}

func parseMicro(field, s string) (hub.Micro, error) {
	a, err := emercoin.ParseAmount(s)
	if err != nil || a < 0 {
		return 0, fieldError(field, "want a non-negative EMC amount with at most 6 decimals, e.g. \"1.5\"")
	}
	return hub.Micro(a), nil
}

func (s *Server) listNumbers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "country", "feature", "max_price", "min_reputation", "sort", "limit", "cursor":
		default:
			return fieldError(k, "unknown query parameter")
		}
	}
	f := hub.NumberFilter{Country: strings.ToUpper(q.Get("country"))}
	if f.Country != "" && len(f.Country) != 2 {
		return fieldError("country", "want an ISO 3166-1 alpha-2 code such as DE")
	}
	features := q["feature"]
	var maxPrice hub.Micro = -1
	if v := q.Get("max_price"); v != "" {
		var err error
		if maxPrice, err = parseMicro("max_price", v); err != nil {
			return err
		}
	}
	minRep := 0
	if v := q.Get("min_reputation"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return fieldError("min_reputation", "want 0..100")
		}
		minRep = n
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "number"
	}
	order, ok := numberSorts[sortBy]
	if !ok {
		return fieldError("sort", "want number, price, -price, reputation or -reputation")
	}
	limit, err := parseLimit(q, 50, 500)
	if err != nil {
		return err
	}
	var after *numberCursor
	if c := q.Get("cursor"); c != "" {
		after = new(numberCursor)
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || json.Unmarshal(b, after) != nil {
			return fieldError("cursor", "not a cursor this endpoint returned")
		}
	}

	ctx := r.Context()
	nums, err := s.cfg.Store.ListNumbers(ctx, f)
	if err != nil {
		return err
	}
	health, err := s.healthIndex(r)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var out []NumberView
	for _, n := range nums {
		if maxPrice >= 0 && n.PricePerDay > maxPrice {
			continue
		}
		if !hasAll(n.Features, features) {
			continue
		}
		v := numberView(n, health)
		if v.Reputation < minRep {
			continue
		}
		if _, err := s.cfg.Store.ActiveLease(ctx, n.ICCID, now); err == nil {
			continue
		} else if !errors.Is(err, hub.ErrNotFound) {
			return err
		}
		v.Available = true
		out = append(out, v)
	}
	full := func(a, b NumberView) int { return cmp.Or(order(a, b), cmp.Compare(a.Number, b.Number)) }
	slices.SortFunc(out, full)
	if after != nil {
		key := NumberView{priceDay: hub.Micro(after.PriceDay), Reputation: after.Reputation, Number: after.Number}
		i, _ := slices.BinarySearchFunc(out, key, full)
		for i < len(out) && full(out[i], key) <= 0 {
			i++
		}
		out = out[i:]
	}
	res := NumberList{Numbers: out}
	if len(out) > limit {
		res.Numbers = out[:limit]
		last := out[limit-1]
		b, _ := json.Marshal(numberCursor{PriceDay: int64(last.priceDay), Reputation: last.Reputation, Number: last.Number})
		res.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	if res.Numbers == nil {
		res.Numbers = []NumberView{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func hasAll(have, want []string) bool {
	for _, f := range want {
		if !slices.Contains(have, f) {
			return false
		}
	}
	return true
}

// health is what the catalogue knows of agents and slots.
type health struct {
	agents map[string]hub.Agent
	slots  map[string]hub.Slot // by ICCID
}

func (s *Server) healthIndex(r *http.Request) (health, error) {
	as, err := s.cfg.Store.ListAgents(r.Context())
	if err != nil {
		return health{}, err
	}
	sl, err := s.cfg.Store.ListSlots(r.Context(), "")
	if err != nil {
		return health{}, err
	}
	h := health{agents: map[string]hub.Agent{}, slots: map[string]hub.Slot{}}
	for _, a := range as {
		h.agents[a.ID] = a
	}
	for _, x := range sl {
		if x.ICCID != "" {
			h.slots[x.AgentID+"/"+x.ICCID] = x
		}
	}
	return h, nil
}

func numberView(n hub.Number, h health) NumberView {
	v := NumberView{Number: n.E164, Country: n.Country, Features: n.Features, Prices: pricesOf(n),
		Agent: n.AgentID, priceDay: n.PricePerDay}
	if v.Features == nil {
		v.Features = []string{}
	}
	if a, ok := h.agents[n.AgentID]; ok && a.Online {
		v.Reputation += 50
		if sl, ok := h.slots[n.AgentID+"/"+n.ICCID]; ok {
			if sl.State == wire.SlotRegistered { // what agents report for a ready slot (agent.SlotStatus.Wire)
				v.Reputation += 30
			}
			if sl.Registration == "home" || sl.Registration == "roaming" {
				v.Reputation += 20
			}
		}
	}
	return v
}
