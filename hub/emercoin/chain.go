package emercoin

import "context"

// Chain is the part of the node the hub's listings and proofs need. *Client implements it
// against a real emercoind or the emulator; the hub depends on this interface, not on *Client.
type Chain interface {
	NameShow(ctx context.Context, name string) (NameRecord, error)
	NameHistory(ctx context.Context, name string, full bool) ([]NameOp, error)
	NameFilter(ctx context.Context, regexp string, opt FilterOptions) ([]NameEntry, error)
	NameNew(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
	NameUpdate(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
	NameDelete(ctx context.Context, name string) (string, error)
	NameMempool(ctx context.Context) ([]NameOp, error)
	GetBlockchainInfo(ctx context.Context) (BlockchainInfo, error)
}

var _ Chain = (*Client)(nil)
