package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/payment"
)

// Kind is what went wrong, as a client can act on it. Each kind has exactly one HTTP status
// (statusOf), and is the "code" of the JSON error body.
type Kind string

// Error kinds.
const (
	KindInvalid         Kind = "invalid_request"  // 400: the request is malformed; Field names what
	KindUnauthenticated Kind = "unauthenticated"  // 401: no, unknown, expired or revoked token; bad sign-in
	KindPaymentRequired Kind = "payment_required" // 402: the payment did not go through
	KindForbidden       Kind = "forbidden"        // 403: signed in, but not allowed
	KindNotFound        Kind = "not_found"        // 404: no such record (or not the caller's)
	KindConflict        Kind = "conflict"         // 409: the state does not allow it (number rented, rental ended…)
	KindTooLarge        Kind = "too_large"        // 413: the body is larger than the endpoint accepts
	KindRateLimited     Kind = "rate_limited"     // 429: slow down; Retry-After says when
	KindInternal        Kind = "internal"         // 500: the hub failed; retry later
	KindNotImplemented  Kind = "not_implemented"  // 501: this hub does not offer it
	KindUnavailable     Kind = "unavailable"      // 503: a dependency (broker, chain) is down
)

// statusOf is the one place error kinds meet HTTP statuses.
func statusOf(k Kind) int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindUnauthenticated:
		return http.StatusUnauthorized
	case KindPaymentRequired:
		return http.StatusPaymentRequired
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindRateLimited:
		return http.StatusTooManyRequests
	case KindNotImplemented:
		return http.StatusNotImplemented
	case KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error is an API error: the body {"error":{"code":…,"message":…,"field":…}}.
type Error struct {
	Kind    Kind   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"` // the JSON field or query parameter at fault
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Kind, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// Status is the HTTP status of e.
func (e *Error) Status() int { return statusOf(e.Kind) }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func fieldError(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// asAPIError turns any handler error into the API error the client sees, and reports whether it
// is the hub's own fault (to be logged). Store "not found" is a 404 and a record a store refused
// is a 400; anything else is internal and its text is not shown.
func asAPIError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, e.Kind == KindInternal
	}
	var inv *hub.InvalidError
	switch {
	case errors.As(err, &inv):
		return &Error{Kind: KindInvalid, Field: inv.Field, Message: inv.Error()}, false
	case errors.Is(err, hub.ErrNotFound):
		return &Error{Kind: KindNotFound, Message: "not found"}, false
	case errors.Is(err, emercoin.ErrWalletLocked):
		return &Error{Kind: KindUnavailable, Message: "the hub's Emercoin wallet is locked; its operator must unlock it (walletpassphrase); retry later"}, true
	case errors.Is(err, emercoin.ErrInsufficientFunds):
		return &Error{Kind: KindUnavailable, Message: "the hub's Emercoin wallet has insufficient funds for the transaction; retry later"}, true
	case errors.Is(err, emercoin.ErrUnreachable), errors.Is(err, emercoin.ErrUnauthorized), errors.Is(err, emercoin.ErrDownloading):
		return &Error{Kind: KindUnavailable, Message: "the hub's Emercoin node is not available; retry later"}, true
	case errors.Is(err, payment.ErrBadKey):
		return &Error{Kind: KindInvalid, Field: "escrow_key", Message: err.Error()}, false
	case errors.Is(err, payment.ErrBudgetExhausted):
		return &Error{Kind: KindPaymentRequired, Message: "the rental's RANDPAY budget is exhausted"}, false
	case errors.Is(err, payment.ErrUnknownChallenge):
		return &Error{Kind: KindInvalid, Field: "chap", Message: "no open challenge of this rental; fetch GET /v1/rentals/{id}/randpay"}, false
	case errors.Is(err, payment.ErrWrongChallenge), errors.Is(err, emercoin.ErrTxDecodeFailed),
		errors.Is(err, emercoin.ErrTxRejected), errors.Is(err, emercoin.ErrMissingInputs), errors.Is(err, emercoin.ErrNoChallenge):
		return &Error{Kind: KindInvalid, Field: "tx", Message: "payment refused: " + err.Error() + "; the SMS got a new challenge"}, false
	case errors.Is(err, payment.ErrIncompleteSignatures), errors.Is(err, payment.ErrSpendMismatch):
		return &Error{Kind: KindInvalid, Field: "hex", Message: err.Error()}, false
	case errors.Is(err, payment.ErrNotFunded):
		return &Error{Kind: KindConflict, Message: err.Error()}, false
	case errors.Is(err, hub.ErrConflict):
		// e.g. another hub instance rented the number at the same moment (Store.PutRentalExclusive)
		return &Error{Kind: KindConflict, Message: "refused by the database: another request took it first (a number rented at the same moment); look again and retry"}, false
	}
	return &Error{Kind: KindInternal, Message: "internal error; the hub logged it"}, true
}
