package emercoin

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes emercoind uses (Bitcoin Core 0.19 rpc/protocol.h), the ones the hub meets.
const (
	CodeMiscError           = -1     // RPC_MISC_ERROR: std::exception in a handler, usage text, type errors
	CodeTypeError           = -3     // RPC_TYPE_ERROR
	CodeWalletError         = -4     // RPC_WALLET_ERROR ("failed to read from name DB" in name_show)
	CodeInvalidAddress      = -5     // RPC_INVALID_ADDRESS_OR_KEY
	CodeInsufficientFunds   = -6     // RPC_WALLET_INSUFFICIENT_FUNDS
	CodeInvalidParameter    = -8     // RPC_INVALID_PARAMETER
	CodeInInitialDownload   = -10    // RPC_CLIENT_IN_INITIAL_DOWNLOAD
	CodeUnlockNeeded        = -13    // RPC_WALLET_UNLOCK_NEEDED
	CodePassphraseIncorrect = -14    // RPC_WALLET_PASSPHRASE_INCORRECT
	CodeWrongEncState       = -15    // RPC_WALLET_WRONG_ENC_STATE
	CodeDatabaseError       = -20    // RPC_DATABASE_ERROR (name_history of an unknown name)
	CodeDeserialization     = -22    // RPC_DESERIALIZATION_ERROR
	CodeVerifyError         = -25    // RPC_VERIFY_ERROR
	CodeVerifyRejected      = -26    // RPC_VERIFY_REJECTED
	CodeAlreadyInChain      = -27    // RPC_VERIFY_ALREADY_IN_CHAIN
	CodeInvalidRequest      = -32600 // HTTP 400
	CodeMethodNotFound      = -32601 // HTTP 404
	CodeInternalError       = -32603 // RPC_INTERNAL_ERROR: most name_operation failures
	CodeParseError          = -32700
)

// Sentinel kinds an *RPCError (or a transport failure) matches with errors.Is. They are
// classifications of the node's code and message, so callers never parse messages themselves.
var (
	ErrUnreachable       = errors.New("emercoin node unreachable")
	ErrUnauthorized      = errors.New("emercoin RPC credentials rejected")
	ErrNameNotFound      = errors.New("name not found")
	ErrNameExists        = errors.New("name already registered and active")
	ErrNameInactive      = errors.New("name is not active")
	ErrNotOwner          = errors.New("name is not owned by this wallet")
	ErrPendingOperation  = errors.New("name has a pending operation")
	ErrNameTooLong       = errors.New("name is too long")
	ErrValueTooLong      = errors.New("value is too long")
	ErrValueEmpty        = errors.New("value must not be empty")
	ErrWalletLocked      = errors.New("wallet is locked")
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrInvalidAddress    = errors.New("invalid address")
	ErrMethodNotFound    = errors.New("method not found")
	ErrDownloading       = errors.New("node is downloading blocks")
	ErrNoChallenge       = errors.New("no RANDPAY challenge matches")
	ErrPassphrase        = errors.New("wallet passphrase incorrect")
	ErrMissingInputs     = errors.New("transaction inputs missing or spent")
	ErrTxRejected        = errors.New("transaction rejected")
	ErrAlreadyInChain    = errors.New("transaction already in block chain")
	ErrTxDecodeFailed    = errors.New("transaction decode failed")
)

// RPCError is an error object returned by the node, with the HTTP status it came with.
type RPCError struct {
	Method     string `json:"-"`
	HTTPStatus int    `json:"-"`
	Code       int    `json:"code"`
	Message    string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("emercoin %s: code %d: %s", e.Method, e.Code, strings.TrimRight(e.Message, "\n"))
}

// Is classifies the node's code and message into the sentinel kinds above, following the error
// catalogue in reference/emercoin.md §2-§4.
func (e *RPCError) Is(target error) bool {
	m := e.Message
	switch target {
	case ErrNameNotFound:
		return (e.Code == CodeWalletError || e.Code == CodeDatabaseError) && strings.Contains(m, "failed to read from name DB")
	case ErrNameExists:
		return strings.Contains(m, "name_new on an unexpired name")
	case ErrNameInactive:
		return strings.Contains(m, "on an inactive name") || strings.Contains(m, "this name is not active")
	case ErrNotOwner:
		return strings.Contains(m, "prev name tx is not yours")
	case ErrPendingOperation:
		return strings.Contains(m, "pending operations on that name")
	case ErrNameTooLong:
		return strings.Contains(m, "name is too long")
	case ErrValueTooLong:
		return strings.Contains(m, "value is too long")
	case ErrValueEmpty:
		return strings.Contains(m, "value must not be empty")
	case ErrWalletLocked:
		return e.Code == CodeUnlockNeeded || strings.Contains(m, "unlocked for block minting only")
	case ErrInsufficientFunds:
		return e.Code == CodeInsufficientFunds || strings.Contains(m, "requires a transaction fee of at least")
	case ErrInvalidAddress:
		return e.Code == CodeInvalidAddress && (strings.Contains(m, "address is invalid") || strings.Contains(m, "Invalid address") || strings.Contains(m, "Invalid Emercoin address"))
	case ErrMethodNotFound:
		return e.Code == CodeMethodNotFound
	case ErrDownloading:
		return e.Code == CodeInInitialDownload
	case ErrNoChallenge:
		return strings.Contains(m, "does not match any available challenge")
	case ErrPassphrase:
		return e.Code == CodePassphraseIncorrect
	case ErrMissingInputs:
		return e.Code == CodeVerifyError && strings.Contains(m, "Missing inputs")
	case ErrTxRejected:
		return e.Code == CodeVerifyRejected
	case ErrAlreadyInChain:
		return e.Code == CodeAlreadyInChain
	case ErrTxDecodeFailed:
		return e.Code == CodeDeserialization
	}
	return false
}

// TransportError is a failure to get any JSON-RPC answer from the node: connection refused,
// timeout, or an HTTP reply without a JSON-RPC body. It matches ErrUnreachable (or
// ErrUnauthorized for HTTP 401/403).
type TransportError struct {
	Method     string
	HTTPStatus int // 0 when no HTTP reply arrived
	Err        error
}

func (e *TransportError) Error() string {
	if e.HTTPStatus != 0 {
		return fmt.Sprintf("emercoin %s: HTTP %d: %v", e.Method, e.HTTPStatus, e.Err)
	}
	return fmt.Sprintf("emercoin %s: %v", e.Method, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

func (e *TransportError) Is(target error) bool {
	if e.HTTPStatus == 401 || e.HTTPStatus == 403 {
		return target == ErrUnauthorized
	}
	return target == ErrUnreachable
}
