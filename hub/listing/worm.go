package listing

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// WORMUser is a provider identity read from a worm:user:ness:<name> record.
type WORMUser struct {
	Name   string   // the <name> part of the NVS name
	Type   string   // "ness"
	Public [32]byte // X25519 public key (sealed boxes)
	Verify [32]byte // Ed25519 public key (signatures)
	Nonce  []byte
	Tags   []string
}

// WORMNode is a NESS service node read from a worm:node:ness:<url> record.
type WORMNode struct {
	URL        string
	Network    string // "inet" when absent
	Nonce      []byte
	Public     [32]byte
	Verify     [32]byte
	MasterUser string
	Tariff     int64
	Services   []string
}

type wormDoc struct {
	XMLName xml.Name `xml:"worm"`
	User    *struct {
		Type   string `xml:"type,attr"`
		Public string `xml:"public,attr"`
		Verify string `xml:"verify,attr"`
		Nonce  string `xml:"nonce,attr"`
		Tags   string `xml:"tags,attr"`
	} `xml:"user"`
	Node *struct {
		Type       string `xml:"type,attr"`
		URL        string `xml:"url,attr"`
		Network    string `xml:"network,attr"`
		Nonce      string `xml:"nonce,attr"`
		Public     string `xml:"public,attr"`
		Verify     string `xml:"verify,attr"`
		MasterUser string `xml:"master-user,attr"`
		Tariff     string `xml:"tariff,attr"`
		Services   string `xml:"services,attr"`
	} `xml:"node"`
}

// parseWORM decodes a WORM document the way NessNode's Worm.php prepares it: typographic
// quotes (”) become ", comments are dropped (encoding/xml skips them), whitespace is free.
func parseWORM(value []byte) (*wormDoc, error) {
	s := strings.ReplaceAll(string(value), "”", `"`)
	var d wormDoc
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: WORM XML: %v", ErrInvalid, err)
	}
	return &d, nil
}

// key32 decodes a base64 key of 32 bytes, standard or URL alphabet, padded or not.
func key32(what, s string) ([32]byte, error) {
	var k [32]byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			copy(k[:], b)
			return k, nil
		}
	}
	return k, fmt.Errorf("%w: WORM %s key %q: want base64 of 32 bytes", ErrInvalid, what, s)
}

func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ParseWORMUser reads a worm:user:ness:<name> record (reference/emercoin.md §8). It needs a
// <user> element with type, public and verify attributes; nonce and tags are optional.
func ParseWORMUser(name string, value []byte) (WORMUser, error) {
	uname, ok := strings.CutPrefix(name, WORMUserPrefix)
	if !ok || uname == "" {
		return WORMUser{}, fmt.Errorf("%w: name %q is not worm:user:ness:<name>", ErrInvalid, name)
	}
	d, err := parseWORM(value)
	if err != nil {
		return WORMUser{}, err
	}
	if d.User == nil {
		return WORMUser{}, fmt.Errorf("%w: WORM record has no <user>", ErrInvalid)
	}
	u := WORMUser{Name: uname, Type: d.User.Type, Tags: splitList(d.User.Tags)}
	if u.Public, err = key32("public", d.User.Public); err != nil {
		return WORMUser{}, err
	}
	if u.Verify, err = key32("verify", d.User.Verify); err != nil {
		return WORMUser{}, err
	}
	if d.User.Nonce != "" {
		if u.Nonce, err = base64.StdEncoding.DecodeString(d.User.Nonce); err != nil {
			return WORMUser{}, fmt.Errorf("%w: WORM nonce: %v", ErrInvalid, err)
		}
	}
	return u, nil
}

// ParseWORMNode reads a worm:node:ness:<url> record: type must be "ness" and url, nonce,
// public, verify, services, tariff and master-user are required, as NessNode requires them.
func ParseWORMNode(value []byte) (WORMNode, error) {
	d, err := parseWORM(value)
	if err != nil {
		return WORMNode{}, err
	}
	x := d.Node
	if x == nil || x.Type != "ness" {
		return WORMNode{}, fmt.Errorf("%w: WORM record has no <node type=\"ness\">", ErrInvalid)
	}
	for what, v := range map[string]string{"url": x.URL, "nonce": x.Nonce, "services": x.Services, "tariff": x.Tariff, "master-user": x.MasterUser} {
		if v == "" {
			return WORMNode{}, fmt.Errorf("%w: WORM node: %s is required", ErrInvalid, what)
		}
	}
	n := WORMNode{URL: x.URL, Network: x.Network, MasterUser: x.MasterUser, Services: splitList(x.Services)}
	if n.Network == "" {
		n.Network = "inet"
	}
	if n.Tariff, err = strconv.ParseInt(x.Tariff, 10, 64); err != nil {
		return WORMNode{}, fmt.Errorf("%w: WORM node tariff %q", ErrInvalid, x.Tariff)
	}
	if n.Nonce, err = base64.StdEncoding.DecodeString(x.Nonce); err != nil {
		return WORMNode{}, fmt.Errorf("%w: WORM node nonce: %v", ErrInvalid, err)
	}
	if n.Public, err = key32("public", x.Public); err != nil {
		return WORMNode{}, err
	}
	if n.Verify, err = key32("verify", x.Verify); err != nil {
		return WORMNode{}, err
	}
	return n, nil
}
