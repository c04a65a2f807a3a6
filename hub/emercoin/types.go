package emercoin

// BlocksPerDay is how many blocks one rental day is worth: expires_at = start + 175 × Σdays.
const BlocksPerDay = 175

// Limits checked by the node (script.h): name and value lengths in bytes.
const (
	MaxNameLength  = 512
	MaxValueLength = 20 * 1024
)

// NameRecord is name_show's result. Value holds the raw bytes (the client asks for base64).
type NameRecord struct {
	Name      string `json:"name"`
	Value     []byte `json:"value"`
	TxID      string `json:"txid"`
	Address   string `json:"address"`
	Vout      int    `json:"vout"`
	ExpiresIn int64  `json:"expires_in"`
	ExpiresAt int64  `json:"expires_at"`
	Time      int64  `json:"time"`
	Deleted   bool   `json:"deleted,omitempty"`
	Expired   bool   `json:"expired,omitempty"`
}

// Active reports whether the record can be read as live: neither deleted nor expired.
func (r NameRecord) Active() bool { return !r.Deleted && !r.Expired }

// NameOp is one operation in name_history or name_mempool.
type NameOp struct {
	Name          string `json:"name,omitempty"` // name_mempool only
	TxID          string `json:"txid"`
	Time          int64  `json:"time"`
	Height        int64  `json:"height,omitempty"` // name_history only
	Address       string `json:"address"`
	Vout          int    `json:"vout,omitempty"` // name_history only
	AddressIsMine bool   `json:"address_is_mine,omitempty"`
	Operation     string `json:"operation"` // "name_new", "name_update", "name_delete"
	DaysAdded     int64  `json:"days_added,omitempty"`
	Value         []byte `json:"value,omitempty"`
}

// NameEntry is one element of name_filter, name_scan or name_list.
type NameEntry struct {
	Name         string `json:"name"`
	Value        []byte `json:"value"`
	RegisteredAt int64  `json:"registered_at,omitempty"` // name_filter
	Address      string `json:"address,omitempty"`       // name_list
	ExpiresIn    int64  `json:"expires_in"`
	Expired      bool   `json:"expired,omitempty"`
	Transferred  bool   `json:"transferred,omitempty"` // name_list
}

// FilterOptions are name_filter's optional arguments.
type FilterOptions struct {
	MaxAge int64 // only names whose active chain began within the last MaxAge blocks; 0 = all
	From   int64 // skip this many matches (index key order)
	Count  int64 // stop after this many matches; 0 = all
}

// WalletInfo is the part of getwalletinfo the hub uses.
type WalletInfo struct {
	WalletName  string `json:"walletname"`
	Balance     Amount `json:"balance"`
	Unconfirmed Amount `json:"unconfirmed_balance"`
	Immature    Amount `json:"immature_balance"`
	TxCount     int64  `json:"txcount"`
	KeypoolSize int64  `json:"keypoolsize"`
	// UnlockedUntil is present only for an encrypted wallet: 0 = locked, else a Unix time.
	UnlockedUntil *int64 `json:"unlocked_until,omitempty"`
}

// Locked reports whether the wallet is encrypted and locked now (unix seconds).
func (w WalletInfo) Locked(now int64) bool {
	return w.UnlockedUntil != nil && (*w.UnlockedUntil == 0 || *w.UnlockedUntil <= now)
}

// AddressInfo is validateaddress's result.
type AddressInfo struct {
	IsValid        bool   `json:"isvalid"`
	Address        string `json:"address,omitempty"`
	ScriptPubKey   string `json:"scriptPubKey,omitempty"`
	IsScript       bool   `json:"isscript,omitempty"`
	IsWitness      bool   `json:"iswitness,omitempty"`
	WitnessVersion *int   `json:"witness_version,omitempty"`
	WitnessProgram string `json:"witness_program,omitempty"`
}

// Received is one element of listreceivedbyaddress.
type Received struct {
	Address       string   `json:"address"`
	Amount        Amount   `json:"amount"`
	Confirmations int64    `json:"confirmations"`
	Label         string   `json:"label"`
	TxIDs         []string `json:"txids"`
	// InvolvesWatchOnly marks a watch-only address (listreceivedbyaddress include_watchonly).
	InvolvesWatchOnly bool `json:"involvesWatchonly,omitempty"`
}

// TxDetail is one element of gettransaction's details.
type TxDetail struct {
	Address  string `json:"address,omitempty"`
	Category string `json:"category"` // "send", "receive", …
	Amount   Amount `json:"amount"`
	Label    string `json:"label,omitempty"`
	Vout     int    `json:"vout"`
	Fee      Amount `json:"fee,omitempty"`
	// InvolvesWatchOnly marks a watch-only address (an imported escrow address).
	InvolvesWatchOnly bool `json:"involvesWatchonly,omitempty"`
}

// Transaction is gettransaction's result.
type Transaction struct {
	Amount        Amount     `json:"amount"`
	Fee           Amount     `json:"fee,omitempty"`
	Confirmations int64      `json:"confirmations"`
	BlockHash     string     `json:"blockhash,omitempty"`
	BlockTime     int64      `json:"blocktime,omitempty"`
	TxID          string     `json:"txid"`
	Time          int64      `json:"time"`
	TimeReceived  int64      `json:"timereceived"`
	Details       []TxDetail `json:"details"`
	Hex           string     `json:"hex"`
}

// Multisig is createmultisig's and addmultisigaddress's result (0.19: no descriptor).
type Multisig struct {
	Address      string `json:"address"`
	RedeemScript string `json:"redeemScript"`
}

// RandpayAccept is randpay_accept's result as the node really builds it.
type RandpayAccept struct {
	TxID     string `json:"txid"`
	Amount   Amount `json:"amount"`
	Expected Amount `json:"expected"`
	Risk     int64  `json:"risk"`
	Won      bool   `json:"won"`
	Sent     bool   `json:"sent"`
}

// RandpayAcceptFlags is randpay_accept's flags argument, as Emercoin's source defines it.
type RandpayAcceptFlags int

const (
	RandpaySendAlways  RandpayAcceptFlags = 0 // send a won payment whatever its amount
	RandpayExactOrMore RandpayAcceptFlags = 1 // send only when vout[0] ≥ the challenge amount
	RandpayExactOnly   RandpayAcceptFlags = 2 // send only when vout[0] == the challenge amount
	RandpayDontSend    RandpayAcceptFlags = 3 // check only
)

// RandpayMktxFlags is randpay_mktx's flags bitfield.
type RandpayMktxFlags int

const (
	RandpayNaive  RandpayMktxFlags = 1 // no randpay-in
	RandpayP2PKH  RandpayMktxFlags = 2 // vout[0] P2PKH instead of P2WPKH
	RandpayNoSign RandpayMktxFlags = 4 // don't sign the payer's inputs
)

// BlockchainInfo is the part of getblockchaininfo the hub uses.
type BlockchainInfo struct {
	Chain                string  `json:"chain"`
	Blocks               int64   `json:"blocks"`
	Headers              int64   `json:"headers"`
	BestBlockHash        string  `json:"bestblockhash"`
	MedianTime           int64   `json:"mediantime"`
	VerificationProgress float64 `json:"verificationprogress"`
	InitialBlockDownload bool    `json:"initialblockdownload"`
}
