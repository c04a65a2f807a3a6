package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/wire"
)

// Token subjects: what a bearer token stands for.
const (
	subjectEd25519  = "ed25519:"  // + the Ed25519 key in standard base64
	subjectEmercoin = "emercoin:" // + the Emercoin address
	tokenPrefix     = "ness_"
	challengeSize   = 32
)

// principal is the signed-in caller.
type principal struct {
	// account is the caller's 32-byte account key: the Ed25519 key itself, or for an Emercoin
	// address EmercoinAccountKey(address). Rentals, messages and webhooks belong to it.
	account []byte
	// provider is the caller's Ed25519 key when signed in with one: the key that signs agent
	// certificates. Zero for Emercoin sign-in (no provider endpoints).
	provider  wire.VerifyKey
	subject   string
	tokenHash []byte
}

func (p principal) isProvider() bool { return !p.provider.IsZero() }

// EmercoinAccountKey is the account key of an Emercoin address: SHA-256 of a domain string and
// the address. It stands in RenterSignKey and webhook owners for renters who sign in that way.
func EmercoinAccountKey(address string) []byte {
	h := sha256.Sum256([]byte("ness-sms emercoin account\x00" + address))
	return h[:]
}

// EmercoinSignInMessage is the text an Emercoin wallet signs (signmessage) to sign in: it holds
// the hub's origin and the challenge, like the Ed25519 sign-in bytes.
func EmercoinSignInMessage(origin string, challenge []byte) string {
	return "NESS SMS sign-in\norigin: " + origin + "\nchallenge: " + base64.StdEncoding.EncodeToString(challenge)
}

// TokenHash is how the hub keeps a bearer token: SHA-256 of its text.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func principalOf(subject string) (principal, bool) {
	switch {
	case strings.HasPrefix(subject, subjectEd25519):
		k, err := wire.ParseVerifyKey("key", strings.TrimPrefix(subject, subjectEd25519))
		if err != nil {
			return principal{}, false
		}
		return principal{account: k[:], provider: k, subject: subject}, true
	case strings.HasPrefix(subject, subjectEmercoin):
		return principal{account: EmercoinAccountKey(strings.TrimPrefix(subject, subjectEmercoin)), subject: subject}, true
	}
	return principal{}, false
}

// StreamSubprotocol is the WebSocket subprotocol of GET /v1/stream. A browser cannot set an
// Authorization header on a WebSocket, so it offers the token as a second subprotocol instead:
// Sec-WebSocket-Protocol: ness.bearer, <token> (the hub answers ness.bearer). The token stays
// out of URLs and so out of access logs.
const StreamSubprotocol = "ness.bearer"

// bearerToken returns the request's token: Authorization: Bearer, or the stream subprotocol form.
func bearerToken(r *http.Request) (string, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return tok, true
	}
	var protos []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			protos = append(protos, strings.TrimSpace(p))
		}
	}
	if len(protos) == 2 && protos[0] == StreamSubprotocol && protos[1] != "" {
		return protos[1], true
	}
	return "", false
}

func (s *Server) authenticate(r *http.Request) (principal, error) {
	tok, ok := bearerToken(r)
	if !ok {
		return principal{}, errorf(KindUnauthenticated, "missing Authorization: Bearer <token> (sign in with POST /v1/auth/challenge, then /v1/auth/token)")
	}
	hash := TokenHash(tok)
	t, err := s.cfg.Store.GetToken(r.Context(), hash, s.cfg.Now())
	if errors.Is(err, hub.ErrNotFound) {
		return principal{}, errorf(KindUnauthenticated, "token unknown, expired or revoked; sign in again")
	}
	if err != nil {
		return principal{}, err
	}
	p, ok := principalOf(t.Subject)
	if !ok {
		return principal{}, errorf(KindUnauthenticated, "token subject not understood; sign in again")
	}
	p.tokenHash = hash
	return p, nil
}

// ChallengeResponse is the answer to POST /v1/auth/challenge.
type ChallengeResponse struct {
	Challenge string    `json:"challenge"` // base64, 32 bytes
	Origin    string    `json:"origin"`    // sign wire.SignInBytes(origin, challenge)
	Expires   time.Time `json:"expires"`
	// EmercoinMessage is the text to sign with an Emercoin wallet instead (signmessage).
	EmercoinMessage string `json:"emercoin_message,omitempty"`
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) error {
	c := randomBytes(challengeSize)
	exp := s.cfg.Now().Add(s.cfg.ChallengeTTL).UTC().Truncate(time.Second)
	if err := s.cfg.Store.PutChallenge(r.Context(), c, exp); err != nil {
		return err
	}
	resp := ChallengeResponse{Challenge: base64.StdEncoding.EncodeToString(c), Origin: s.cfg.Origin, Expires: exp}
	if s.cfg.Emercoin != nil {
		resp.EmercoinMessage = EmercoinSignInMessage(s.cfg.Origin, c)
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// TokenRequest is the body of POST /v1/auth/token.
type TokenRequest struct {
	Key       string `json:"key"`       // Ed25519 public key, base64
	Challenge string `json:"challenge"` // as returned by /v1/auth/challenge
	Signature string `json:"signature"` // Ed25519 over wire.SignInBytes(origin, challenge), base64
}

func (q *TokenRequest) validate() error {
	if _, err := wire.ParseVerifyKey("key", q.Key); err != nil {
		return fieldError("key", "want a base64 Ed25519 public key (32 bytes): %v", err)
	}
	if err := checkChallenge(q.Challenge); err != nil {
		return err
	}
	if sig, err := wire.DecodeBase64("signature", q.Signature); err != nil || len(sig) != 64 {
		return fieldError("signature", "want a base64 Ed25519 signature (64 bytes)")
	}
	return nil
}

func checkChallenge(c string) error {
	b, err := wire.DecodeBase64("challenge", c)
	if err != nil || len(b) != challengeSize {
		return fieldError("challenge", "want the base64 challenge from POST /v1/auth/challenge")
	}
	return nil
}

// EmercoinTokenRequest is the body of POST /v1/auth/emercoin.
type EmercoinTokenRequest struct {
	Address   string `json:"address"`   // P2PKH or bech32 P2WPKH address
	Challenge string `json:"challenge"` // as returned by /v1/auth/challenge
	Signature string `json:"signature"` // signmessage of EmercoinSignInMessage(origin, challenge)
}

func (q *EmercoinTokenRequest) validate() error {
	if q.Address == "" || len(q.Address) > 100 {
		return fieldError("address", "want an Emercoin address")
	}
	if err := checkChallenge(q.Challenge); err != nil {
		return err
	}
	if q.Signature == "" || len(q.Signature) > 200 {
		return fieldError("signature", "want the base64 signmessage signature")
	}
	return nil
}

// TokenResponse is the answer to a successful sign-in.
type TokenResponse struct {
	Token   string    `json:"token"` // send as Authorization: Bearer <token>
	Expires time.Time `json:"expires"`
	Account Account   `json:"account"`
}

// Account says who a token stands for.
type Account struct {
	Subject  string `json:"subject"`            // "ed25519:<key>" or "emercoin:<address>"
	Key      string `json:"key"`                // account key (base64): owns rentals and webhooks
	Provider bool   `json:"provider,omitempty"` // may use /v1/provider (Ed25519 sign-in)
}

func accountOf(p principal) Account {
	return Account{Subject: p.subject, Key: base64.StdEncoding.EncodeToString(p.account), Provider: p.isProvider()}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	var q TokenRequest
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	key, _ := wire.ParseVerifyKey("key", q.Key)
	ch, _ := wire.DecodeBase64("challenge", q.Challenge)
	sig, _ := wire.DecodeBase64("signature", q.Signature)
	if err := wire.VerifySignIn(key, s.cfg.Origin, ch, sig); err != nil {
		return &Error{Kind: KindUnauthenticated, Field: "signature",
			Message: "signature does not verify over wire.SignInBytes(" + s.cfg.Origin + ", challenge)"}
	}
	return s.issueToken(w, r, ch, subjectEd25519+key.String())
}

func (s *Server) emercoinToken(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Emercoin == nil {
		return errorf(KindNotImplemented, "this hub has no Emercoin network configured; sign in with an Ed25519 key (POST /v1/auth/token)")
	}
	var q EmercoinTokenRequest
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	ch, _ := wire.DecodeBase64("challenge", q.Challenge)
	ok, err := emercoin.VerifyMessage(*s.cfg.Emercoin, q.Address, q.Signature, EmercoinSignInMessage(s.cfg.Origin, ch))
	if errors.Is(err, emercoin.ErrBadAddress) || errors.Is(err, emercoin.ErrAddressNotKey) {
		return fieldError("address", "%v", err)
	}
	if err != nil {
		return fieldError("signature", "%v", err)
	}
	if !ok {
		return &Error{Kind: KindUnauthenticated, Field: "signature", Message: "signature is not by this address over the sign-in message"}
	}
	return s.issueToken(w, r, ch, subjectEmercoin+q.Address)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, challenge []byte, subject string) error {
	now := s.cfg.Now()
	if err := s.cfg.Store.UseChallenge(r.Context(), challenge, now); errors.Is(err, hub.ErrNotFound) {
		return &Error{Kind: KindUnauthenticated, Field: "challenge", Message: "challenge unknown, used or expired; ask for a new one"}
	} else if err != nil {
		return err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	t := hub.Token{Hash: TokenHash(tok), Subject: subject, Scope: "account", CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.TokenTTL)}
	if err := s.cfg.Store.PutToken(r.Context(), t); err != nil {
		return err
	}
	p, _ := principalOf(subject)
	writeJSON(w, http.StatusCreated, TokenResponse{Token: tok, Expires: hub.StoreTime(t.ExpiresAt), Account: accountOf(p)})
	return nil
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.cfg.Store.DeleteToken(r.Context(), p.tokenHash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, accountOf(p))
	return nil
}
