package render

import (
	"errors"
	"fmt"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Errors a caller may want to tell apart; apart from errors writing the
// output, every error this package returns wraps one of them. A web layer would answer ErrBadOptions with 400,
// ErrUnsupported with 406 or 501, and ErrInvalid as a damaged instance.
var (
	// ErrInvalid: the image attributes or pixel data are missing,
	// inconsistent with each other, or corrupt.
	ErrInvalid = errors.New("invalid image")
	// ErrUnsupported: the image may well be valid, but this package cannot
	// render it (its transfer syntax, photometric interpretation, bit
	// depth, or size).
	ErrUnsupported = errors.New("unsupported image")
	// ErrBadOptions: the rendering options cannot be honoured.
	ErrBadOptions = errors.New("invalid rendering options")
)

// UnsupportedSyntaxError reports a frame in a transfer syntax that no
// decoder is registered for. It wraps ErrUnsupported.
type UnsupportedSyntaxError struct {
	TransferSyntax dcm.TransferSyntax
}

func (e *UnsupportedSyntaxError) Error() string {
	return fmt.Sprintf("%v: no decoder for transfer syntax %s (%s)", ErrUnsupported, e.TransferSyntax.Name, e.TransferSyntax.UID)
}

func (e *UnsupportedSyntaxError) Unwrap() error { return ErrUnsupported }
