// Package emercoin is the hub's JSON-RPC client for emercoind: the NVS name operations
// (name_new, name_update, name_show, name_filter, …), the wallet calls the hub needs, RANDPAY and
// signed-message verification. It follows the facts in reference/emercoin.md read from Emercoin's
// source: Bitcoin Core 0.19 JSON-RPC 1.0 envelopes, HTTP 500 with a JSON body on every error,
// positional parameters, "" rather than null for optional strings, 6-decimal amounts.
//
// Node errors come back as *RPCError; errors.Is matches them against the sentinel kinds
// (ErrNameNotFound, ErrWalletLocked, ErrInsufficientFunds, ErrNameExists, ErrValueTooLong, …), and
// a node that cannot be reached is ErrUnreachable. Reads are retried; writes never are, so a name
// operation is never issued twice.
//
// The same package verifies Emercoin signed messages ("EmerCoin Signed Message:\n" magic, compact
// recoverable secp256k1 signatures, P2PKH and bech32 P2WPKH addresses) without a node.
//
// hub/emercoin/emulator is an in-process emercoind that follows the same facts, and
// hub/emercoin/emercointest is the contract suite both the emulator and a real node pass.
package emercoin
