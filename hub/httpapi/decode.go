package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// DefaultBodyLimit is the largest request body an endpoint accepts unless it says otherwise.
const DefaultBodyLimit = 16 << 10

// decodeBody strictly decodes the request body into v (see decodeJSON) reading at most limit
// bytes; a larger body is a too_large error.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fieldError("Content-Type", "want application/json, got %q", ct)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errorf(KindTooLarge, "request body is larger than %d bytes", limit)
		}
		return fieldError("body", "reading the body: %v", err)
	}
	return decodeJSON(b, limit, v)
}

// decodeJSON decodes data into v strictly: one JSON object, at most limit bytes, no unknown
// fields, no trailing data, and (when v has one) v.validate() passes. Errors name the field.
func decodeJSON(data []byte, limit int64, v any) error {
	if int64(len(data)) > limit {
		return errorf(KindTooLarge, "request body is larger than %d bytes", limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fieldError("body", "empty; want a JSON object")
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return fieldError("body", "want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fieldError("body", "trailing data after the JSON object")
	}
	if val, ok := v.(interface{ validate() error }); ok {
		return val.validate()
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return fieldError(f, "want a JSON %s, got %s", te.Type.Kind(), te.Value)
	case errors.As(err, &se):
		return fieldError("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fieldError("body", "truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fieldError(f, "unknown field")
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return fieldError("body", "%v", err)
}
