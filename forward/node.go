package forward

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Node is a provider's DICOM node: where a job's films go.
type Node struct {
	AETitle string `json:"ae_title"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
}

// Addr is the node's host:port.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

func (n Node) String() string { return n.AETitle + "@" + n.Addr() }

// ErrInvalid is wrapped by the errors of values a caller got wrong.
var ErrInvalid = errors.New("invalid")

// Validate checks the node: an AE title of 1 to 16 characters of the DICOM
// default repertoire without backslash and not all spaces (PS3.5 6.2, AE),
// a host name or IP address, and a port from 1 to 65535.
func (n Node) Validate() error {
	if err := validateAE(n.AETitle); err != nil {
		return err
	}
	if err := validateHost(n.Host); err != nil {
		return err
	}
	if n.Port < 1 || n.Port > 65535 {
		return fmt.Errorf("node port %d: not from 1 to 65535: %w", n.Port, ErrInvalid)
	}
	return nil
}

func validateAE(ae string) error {
	if len(ae) == 0 || len(ae) > 16 {
		return fmt.Errorf("node AE title %q: %d characters, want 1 to 16: %w", ae, len(ae), ErrInvalid)
	}
	if strings.Trim(ae, " ") == "" {
		return fmt.Errorf("node AE title: all spaces: %w", ErrInvalid)
	}
	for i := 0; i < len(ae); i++ {
		if c := ae[i]; c < 0x20 || c > 0x7E || c == '\\' {
			return fmt.Errorf("node AE title %q: character %q is not allowed (default repertoire, no backslash): %w", ae, c, ErrInvalid)
		}
	}
	return nil
}

func validateHost(h string) error {
	if h == "" {
		return fmt.Errorf("node host: empty: %w", ErrInvalid)
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("node host: %d characters, want at most 253: %w", len(h), ErrInvalid)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		ok := label != "" && len(label) <= 63 && label[0] != '-' && label[len(label)-1] != '-'
		for i := 0; ok && i < len(label); i++ {
			c := label[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		}
		if !ok {
			return fmt.Errorf("node host %q: not a host name or IP address: %w", h, ErrInvalid)
		}
	}
	return nil
}

// normalised is the node as the identity of a job sees it: AE title
// without insignificant spaces, host in lower case.
func (n Node) normalised() Node {
	return Node{AETitle: strings.Trim(n.AETitle, " "), Host: strings.ToLower(n.Host), Port: n.Port}
}
