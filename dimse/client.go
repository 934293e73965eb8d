package dimse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Dialer opens associations as an SCU.
type Dialer struct {
	CallingAE string
	// MaxPDU is the largest P-DATA-TF we accept (default DefaultMaxPDU).
	MaxPDU uint32
	// TLS, when set, wraps the connection.
	TLS *tls.Config
	// Timeout bounds connecting and negotiating (default 30 s); it is
	// also the association's ARTIM timeout.
	Timeout time.Duration
	// IdleTimeout bounds waiting for a PDU or a response (default 5 min).
	IdleTimeout time.Duration
	// Identity, when set, is offered as user identity negotiation.
	Identity *UserIdentity
	Log      *slog.Logger
}

// Proposal is a presentation context to propose.
type Proposal struct {
	AbstractSyntax   string
	TransferSyntaxes []string
	// SCP asks for the SCP role on this SOP class (C-GET receivers).
	SCP bool
}

// Associate connects to addr and negotiates an association with calledAE.
// It fails with *AssociateRJ when the peer rejects the association, and
// when the peer accepts none of the proposals.
func (d *Dialer) Associate(ctx context.Context, addr, calledAE string, proposals []Proposal) (*Assoc, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	idle := d.IdleTimeout
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	maxPDU := d.MaxPDU
	if maxPDU == 0 {
		maxPDU = DefaultMaxPDU
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(proposals) == 0 || len(proposals) > 128 {
		return nil, fmt.Errorf("associate with %s: %d presentation contexts (1 to 128 allowed)", calledAE, len(proposals))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("associate with %s at %s: %w", calledAE, addr, err)
	}
	if d.TLS != nil {
		cfg := d.TLS
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("associate with %s at %s: TLS: %w", calledAE, addr, err)
		}
		conn = tc
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)

	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: calledAE, CallingAE: d.CallingAE,
		ApplicationContext: ApplicationContext,
		User: UserInfo{MaxLength: maxPDU, ImplementationClassUID: dcm.MolarImplementationClassUID,
			ImplementationVersion: dcm.MolarImplementationVersion, Identity: d.Identity}}
	for i, p := range proposals {
		id := byte(2*i + 1)
		rq.Contexts = append(rq.Contexts, ContextRQ{ID: id, AbstractSyntax: p.AbstractSyntax, TransferSyntaxes: p.TransferSyntaxes})
		if p.SCP {
			rq.User.Roles = append(rq.User.Roles, RoleSelection{SOPClassUID: p.AbstractSyntax, SCU: false, SCP: true})
		}
	}
	rq.User.Roles = dedupeRoles(rq.User.Roles)
	pdu := rq.encode()
	if pdu == nil {
		conn.Close()
		return nil, fmt.Errorf("associate with %s: a UID or the user identity is too long for an A-ASSOCIATE-RQ", calledAE)
	}
	if _, err := conn.Write(pdu); err != nil {
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: %w", calledAE, addr, err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	p, err := readPDU(br, 0)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: %w", calledAE, addr, err)
	}
	var ac *AssociateAC
	switch p := p.(type) {
	case *AssociateAC:
		ac = p
	case *AssociateRJ:
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: %w", calledAE, addr, p)
	case *Abort:
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: %w", calledAE, addr, p)
	default:
		conn.Write((&Abort{Source: AbortSourceProvider, Reason: AbortUnexpectedPDU}).encode())
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: unexpected %T", calledAE, addr, p)
	}
	conn.SetDeadline(time.Time{})
	if ac.User.MaxLength != 0 && ac.User.MaxLength < MinPeerMaxPDU {
		conn.Write((&Abort{Source: AbortSourceUser, Reason: AbortNotSpecified}).encode())
		conn.Close()
		return nil, fmt.Errorf("associate with %s at %s: the peer's maximum PDU length %d is below %d", calledAE, addr, ac.User.MaxLength, MinPeerMaxPDU)
	}

	a := newAssoc(conn, br, log.With("called_ae", calledAE, "remote", addr), assocParams{idle: idle, artim: timeout})
	a.CallingAE, a.CalledAE = d.CallingAE, calledAE
	a.PeerImplementation = ac.User.ImplementationClassUID + " " + ac.User.ImplementationVersion
	a.peerMax, a.ourMax = ac.User.MaxLength, maxPDU
	roles := map[string]RoleSelection{}
	for _, r := range ac.User.Roles {
		roles[r.SOPClassUID] = r
	}
	for _, res := range ac.Contexts {
		if res.Result != ResultAcceptance {
			continue
		}
		i := int(res.ID-1) / 2
		if res.ID%2 == 0 || i >= len(rq.Contexts) {
			continue
		}
		prop := rq.Contexts[i]
		ts, _ := dcm.LookupTransferSyntax(res.TransferSyntax)
		c := &Context{ID: res.ID, AbstractSyntax: prop.AbstractSyntax, TransferSyntax: ts, SCU: true}
		if r, ok := roles[prop.AbstractSyntax]; ok && proposals[i].SCP {
			c.SCU, c.SCP = r.SCU, r.SCP
		}
		a.addContext(c)
	}
	if len(a.order) == 0 {
		a.start()
		a.Abort()
		return nil, fmt.Errorf("associate with %s at %s: no presentation context accepted", calledAE, addr)
	}
	a.start()
	return a, nil
}

func dedupeRoles(rs []RoleSelection) []RoleSelection {
	seen := map[string]bool{}
	out := rs[:0]
	for _, r := range rs {
		if !seen[r.SOPClassUID] {
			seen[r.SOPClassUID] = true
			out = append(out, r)
		}
	}
	return out
}

// Echo sends a C-ECHO.
func (a *Assoc) Echo(ctx context.Context) error {
	pc := a.ContextFor(VerificationSOPClass)
	if pc == nil {
		return errors.New("C-ECHO: Verification was not accepted")
	}
	id := a.NextMessageID()
	if err := a.Send(pc, &Command{Field: CEchoRQ, MessageID: id, AffectedSOPClassUID: VerificationSOPClass}, nil); err != nil {
		return err
	}
	rsp, err := a.Response(ctx, id)
	if err != nil {
		return fmt.Errorf("C-ECHO: %w", err)
	}
	if rsp.Data != nil {
		rsp.Data.Close()
	}
	if rsp.Command.Status != StatusSuccess {
		return &StatusError{Op: "C-ECHO", Status: rsp.Command.Status, Comment: rsp.Command.ErrorComment}
	}
	return nil
}

// StoreRequest is one C-STORE.
type StoreRequest struct {
	SOPClassUID, SOPInstanceUID string
	// TransferSyntax is the syntax Data is encoded in.
	TransferSyntax string
	Data           io.Reader // the data set, without file meta information
	// Context, when set, is the presentation context to send on (see
	// SendContext); otherwise SendContext picks one.
	Context *Context
	// MoveOriginatorAE/ID are set for C-MOVE sub-operations.
	MoveOriginatorAE string
	MoveOriginatorID uint16
}

// ErrNoContext: no accepted presentation context can carry the data set.
var ErrNoContext = errors.New("no accepted presentation context for it")

// SendContext picks the context on which to send a data set of SOP class
// as encoded in ts: one in ts itself, else one in a syntax dcm.Transcode
// converts ts to, explicit VR little endian first. With needSCP only
// contexts where the requestor took the SCP role count (C-GET). It returns
// nil when none fits.
func (a *Assoc) SendContext(as, ts string, needSCP bool) *Context {
	from, _ := dcm.LookupTransferSyntax(ts)
	var convert *Context
	for _, c := range a.order {
		if c.AbstractSyntax != as || (needSCP && !c.SCP) {
			continue
		}
		if c.TransferSyntax.UID == ts {
			return c
		}
		if dcm.CanTranscode(from, c.TransferSyntax) && (convert == nil || c.TransferSyntax.UID == dcm.ExplicitVRLittleEndian) {
			convert = c
		}
	}
	return convert
}

// Store sends a C-STORE, converting Data to the context's transfer syntax
// as it streams when that differs, and returns the peer's response command.
// A status other than success is not an error here; callers count them.
func (a *Assoc) Store(ctx context.Context, req StoreRequest) (*Command, error) {
	pc := req.Context
	if pc == nil {
		pc = a.SendContext(req.SOPClassUID, req.TransferSyntax, false)
	}
	from, _ := dcm.LookupTransferSyntax(req.TransferSyntax)
	if pc == nil || !dcm.CanTranscode(from, pc.TransferSyntax) {
		return nil, fmt.Errorf("C-STORE %s of %s in %s: %w", req.SOPInstanceUID, req.SOPClassUID, from.Name, ErrNoContext)
	}
	data := req.Data
	if pc.TransferSyntax.UID != from.UID {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(dcm.Transcode(pw, req.Data, from, pc.TransferSyntax)) }()
		defer pr.Close()
		data = pr
	}
	id := a.NextMessageID()
	cmd := &Command{Field: CStoreRQ, MessageID: id, AffectedSOPClassUID: req.SOPClassUID,
		AffectedSOPInstanceUID: req.SOPInstanceUID, Priority: priorityMedium,
		MoveOriginatorAE: req.MoveOriginatorAE, MoveOriginatorID: req.MoveOriginatorID}
	if err := a.Send(pc, cmd, data); err != nil {
		return nil, err
	}
	// Once sent, the response is awaited even if ctx ends, so the
	// association stays in step.
	rsp, err := a.Response(context.WithoutCancel(ctx), id)
	if err != nil {
		return nil, fmt.Errorf("C-STORE %s: %w", req.SOPInstanceUID, err)
	}
	if rsp.Data != nil {
		rsp.Data.Close()
	}
	return rsp.Command, nil
}

// Find sends a C-FIND with identifier keys on the abstract syntax model
// (e.g. StudyRootFind) and calls fn with each match.
func (a *Assoc) Find(ctx context.Context, model string, keys dcm.Attrs, fn func(dcm.Attrs) error) error {
	pc := a.ContextFor(model)
	if pc == nil {
		return fmt.Errorf("C-FIND: %s was not accepted", model)
	}
	body, err := encodeIdentifier(keys, pc.TransferSyntax, nil)
	if err != nil {
		return fmt.Errorf("C-FIND: %w", err)
	}
	id := a.NextMessageID()
	if err := a.Send(pc, &Command{Field: CFindRQ, MessageID: id, AffectedSOPClassUID: model, Priority: priorityMedium}, bytes.NewReader(body)); err != nil {
		return err
	}
	var stopErr error // why we sent C-CANCEL
	for {
		rsp, err := a.Response(context.WithoutCancel(ctx), id)
		if err != nil {
			return fmt.Errorf("C-FIND: %w", err)
		}
		c := rsp.Command
		switch Kind(c.Status) {
		case KindPending:
			var attrs dcm.Attrs
			if rsp.Data != nil {
				ds, _, perr := dcm.ParseDataset(rsp.Data, pc.TransferSyntax, 0, dcm.ParseOptions{})
				rsp.Data.Close()
				if perr != nil {
					return fmt.Errorf("C-FIND response: %w", perr)
				}
				cs, _ := ds.CharacterSet(nil)
				attrs = datasetAttrs(ds, cs)
				if sc := ds.Find(dcm.SpecificCharacterSet); sc != nil {
					attrs.Set(dcm.SpecificCharacterSet, dcm.CS, dcm.Strings(sc, ds.ByteOrder(), nil)...)
				}
			}
			if stopErr != nil {
				continue
			}
			if err := fn(attrs); err != nil || ctx.Err() != nil {
				// Ask the peer to stop, then drain to its final response.
				stopErr = errOr(err, ctx.Err())
				a.Send(pc, &Command{Field: CCancelRQ, RespondingTo: id}, nil)
			}
		case KindSuccess, KindCancel:
			if rsp.Data != nil {
				rsp.Data.Close()
			}
			// Success can still come after our C-CANCEL crossed the end.
			return stopErr
		default:
			if rsp.Data != nil {
				rsp.Data.Close()
			}
			return &StatusError{Op: "C-FIND", Status: c.Status, Comment: c.ErrorComment}
		}
	}
}

// Move sends a C-MOVE of keys to destination, calling progress (if set)
// with each pending response's counts. It returns the final response and
// the failed SOP Instance UIDs it lists.
func (a *Assoc) Move(ctx context.Context, model, destination string, keys dcm.Attrs, progress func(SubOps)) (*Command, []string, error) {
	pc := a.ContextFor(model)
	if pc == nil {
		return nil, nil, fmt.Errorf("C-MOVE: %s was not accepted", model)
	}
	body, err := encodeIdentifier(keys, pc.TransferSyntax, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("C-MOVE: %w", err)
	}
	id := a.NextMessageID()
	if err := a.Send(pc, &Command{Field: CMoveRQ, MessageID: id, AffectedSOPClassUID: model,
		Priority: priorityMedium, MoveDestination: destination}, bytes.NewReader(body)); err != nil {
		return nil, nil, err
	}
	cancelSent := false
	for {
		rsp, err := a.Response(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, nil, fmt.Errorf("C-MOVE: %w", err)
		}
		c := rsp.Command
		var failed []string
		if rsp.Data != nil {
			ds, _, perr := dcm.ParseDataset(rsp.Data, pc.TransferSyntax, 0, dcm.ParseOptions{})
			rsp.Data.Close()
			if perr == nil {
				if e := ds.Find(failedSOPInstanceUIDList); e != nil {
					failed = dcm.Strings(e, ds.ByteOrder(), nil)
				}
			}
		}
		if Kind(c.Status) == KindPending {
			if progress != nil && c.SubOps != nil {
				progress(*c.SubOps)
			}
			if ctx.Err() != nil && !cancelSent {
				cancelSent = true
				a.Send(pc, &Command{Field: CCancelRQ, RespondingTo: id}, nil)
			}
			continue
		}
		return c, failed, nil
	}
}

// failedSOPInstanceUIDList is (0008,0058).
const failedSOPInstanceUIDList = dcm.Tag(0x00080058)
