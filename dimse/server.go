package dimse

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Archive is what the SCP services need of the store.
type Archive interface {
	IngestDataset(ctx context.Context, meta store.Meta, r io.Reader) (*store.Result, error)
	QueryFunc(ctx context.Context, q store.Query, fn func(store.Match) error) (bool, error)
	ListInstances(ctx context.Context, study, series string, fn func(store.InstanceRef) error) error
	OpenInstance(ctx context.Context, sop string) (*store.Instance, error)
	Study(ctx context.Context, uid string) (dcm.Attrs, error)
}

// Server accepts associations and serves them by Policy.
type Server struct {
	Policy   Policy
	Archive  Archive
	Worklist Worklist // nil: an empty worklist
	Log      *slog.Logger
	// MaxAssociations bounds concurrent associations (default 64); one
	// more is answered with A-ASSOCIATE-RJ "local limit exceeded".
	MaxAssociations int
	// IdleTimeout aborts an association with no PDU for this long, and
	// bounds waiting for a response (default 5 minutes).
	IdleTimeout time.Duration
	// ARTIMTimeout bounds waiting for A-ASSOCIATE-RQ after connect and
	// for the peer to close after a release or reject (default 30 s).
	ARTIMTimeout time.Duration
	// ClientTLS is used for C-MOVE destinations marked TLS.
	ClientTLS *tls.Config
	// Auditor, when set, records every C-FIND, C-MOVE and C-GET before it
	// is served.
	Auditor Auditor

	once      sync.Once
	sem       chan struct{}
	rejecting atomic.Int32
	wg        sync.WaitGroup
	mu        sync.Mutex
	active    map[*Assoc]struct{}
	conns     map[net.Conn]struct{}
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.MaxAssociations <= 0 {
			s.MaxAssociations = 64
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = 5 * time.Minute
		}
		if s.ARTIMTimeout <= 0 {
			s.ARTIMTimeout = 30 * time.Second
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		s.sem = make(chan struct{}, s.MaxAssociations)
		s.active = map[*Assoc]struct{}{}
		s.conns = map[net.Conn]struct{}{}
	})
}

// Serve accepts connections on ln until ctx ends or ln is closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.init()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept DICOM connections: %w", err)
		}
		backoff = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(ctx, conn)
		}()
	}
}

// Shutdown waits for associations in progress to end until ctx expires,
// then aborts those still open. Close the listeners first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for a := range s.active {
		go a.abort(AbortSourceProvider, AbortNotSpecified)
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

func (s *Server) track(c net.Conn, a *Assoc, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case a != nil && on:
		s.active[a] = struct{}{}
	case a != nil:
		delete(s.active, a)
	case on:
		s.conns[c] = struct{}{}
	default:
		delete(s.conns, c)
	}
}

// handleConn runs one connection from accept to close. A panic anywhere in
// it ends this association only.
func (s *Server) handleConn(ctx context.Context, conn net.Conn) {
	log := s.Log.With("remote", conn.RemoteAddr().String())
	s.track(conn, nil, true)
	defer s.track(conn, nil, false)
	defer conn.Close()
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in association; closing it", "panic", r, "stack", string(debug.Stack()))
		}
	}()

	overLimit := false
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		overLimit = true
		// Rejecting costs a goroutine for up to ARTIM; beyond this many
		// at once, just drop the connection.
		if s.rejecting.Add(1) > int32(s.MaxAssociations) {
			s.rejecting.Add(-1)
			log.Warn("too many connections; dropped", "limit", s.MaxAssociations)
			return
		}
		defer s.rejecting.Add(-1)
	}

	if tc, ok := conn.(*tls.Conn); ok {
		conn.SetDeadline(time.Now().Add(s.ARTIMTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			log.Warn("DICOM TLS handshake failed", "err", err)
			return
		}
		conn.SetDeadline(time.Time{})
	}

	br := bufio.NewReaderSize(conn, 64<<10)
	conn.SetReadDeadline(time.Now().Add(s.ARTIMTimeout))
	p, err := readPDU(br, 0)
	if err != nil {
		var pe *ProtocolError
		switch {
		case errors.As(err, &pe):
			log.Warn("bad first PDU; aborting", "err", err)
			writeAndLinger(conn, br, (&Abort{Source: AbortSourceProvider, Reason: pe.Reason}).encode(), s.ARTIMTimeout)
		case errors.Is(err, io.EOF):
			log.Debug("connection closed before A-ASSOCIATE-RQ")
		default:
			log.Warn("no A-ASSOCIATE-RQ", "err", err)
		}
		return
	}
	rq, ok := p.(*AssociateRQ)
	if !ok {
		log.Warn("PDU before association; aborting", "pdu", fmt.Sprintf("%T", p))
		writeAndLinger(conn, br, (&Abort{Source: AbortSourceProvider, Reason: AbortUnexpectedPDU}).encode(), s.ARTIMTimeout)
		return
	}
	log = log.With("calling_ae", rq.CallingAE, "called_ae", rq.CalledAE)
	if overLimit {
		log.Warn("association rejected: too many associations", "limit", s.MaxAssociations)
		writeAndLinger(conn, br, (&AssociateRJ{Result: RejectTransient, Source: RejectSourcePresent, Reason: RejectLocalLimitExcd}).encode(), s.ARTIMTimeout)
		return
	}
	n := s.Policy.negotiate(ctx, rq, conn.RemoteAddr())
	if n.rj != nil {
		log.Warn("association rejected", "why", n.why, "reason", rejectReason(n.rj.Source, n.rj.Reason))
		writeAndLinger(conn, br, n.rj.encode(), s.ARTIMTimeout)
		return
	}
	acPDU := n.ac.encode()
	if acPDU == nil {
		log.Error("A-ASSOCIATE-AC does not fit its length fields; rejecting")
		writeAndLinger(conn, br, (&AssociateRJ{Result: RejectTransient, Source: RejectSourceUser, Reason: RejectNoReason}).encode(), s.ARTIMTimeout)
		return
	}
	conn.SetWriteDeadline(time.Now().Add(s.ARTIMTimeout))
	if _, err := conn.Write(acPDU); err != nil {
		log.Warn("sending A-ASSOCIATE-AC", "err", err)
		return
	}
	conn.SetDeadline(time.Time{})

	a := newAssoc(conn, br, log, assocParams{idle: s.IdleTimeout, artim: s.ARTIMTimeout})
	a.CallingAE, a.CalledAE = rq.CallingAE, rq.CalledAE
	a.PeerImplementation = rq.User.ImplementationClassUID + " " + rq.User.ImplementationVersion
	a.peerMax, a.ourMax = rq.User.MaxLength, s.Policy.MaxPDU
	for _, c := range n.contexts {
		a.addContext(c)
	}
	s.track(nil, a, true)
	defer s.track(nil, a, false)
	log.Info("association accepted", "contexts", len(n.contexts), "proposed", len(rq.Contexts),
		"peer_max_pdu", a.peerMax, "implementation", a.PeerImplementation, "user", n.user)
	a.start()
	st := s.serveAssoc(ctx, a, n)
	err = a.Err()
	switch {
	case errors.Is(err, ErrReleased):
		if err := a.replyRelease(); err != nil {
			log.Warn("sending A-RELEASE-RP", "err", err)
		}
		log.Info("association released", st.logAttrs()...)
		a.linger()
	default:
		a.close()
		log.Warn("association ended", append(st.logAttrs(), "err", err)...)
	}
}

// writeAndLinger sends a final PDU and waits (up to ARTIM) for the peer
// to close, as PS3.8 asks after a reject or abort.
func writeAndLinger(conn net.Conn, br *bufio.Reader, pdu []byte, artim time.Duration) {
	conn.SetWriteDeadline(time.Now().Add(artim))
	if _, err := conn.Write(pdu); err != nil {
		return
	}
	lingerUntilClosed(conn, br, artim)
}

// assocStats sums up an association for its closing log line.
type assocStats struct {
	stored, storeFailed, finds, moves, gets, echoes int
	bytes                                           int64
}

func (st *assocStats) logAttrs() []any {
	return []any{"stored", st.stored, "store_failed", st.storeFailed, "finds", st.finds,
		"moves", st.moves, "gets", st.gets, "echoes", st.echoes, "bytes", st.bytes}
}

// serveAssoc handles requests one at a time until the association ends.
func (s *Server) serveAssoc(ctx context.Context, a *Assoc, n negotiation) *assocStats {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	st := &assocStats{}
	for msg := range a.requests {
		if !s.handle(ctx, a, msg, st) {
			a.abort(AbortSourceProvider, AbortNotSpecified)
			for msg := range a.requests {
				if msg.Data != nil {
					msg.Data.Close()
				}
			}
			break
		}
	}
	return st
}

// handle serves one request; false means the association must be aborted.
func (s *Server) handle(ctx context.Context, a *Assoc, msg *Message, st *assocStats) (ok bool) {
	defer func() {
		if msg.Data != nil {
			msg.Data.Close()
		}
		if r := recover(); r != nil {
			a.log.Error("panic serving a request; aborting the association", "command", msg.Command.String(), "panic", r, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	cmd := msg.Command
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.watchCancel(cmd.MessageID, cancel)()
	// The peer is silent while it waits for us: not idle.
	a.busy.Add(1)
	defer a.busy.Add(-1)

	svc := s.Policy.service(msg.Context.AbstractSyntax)
	var err error
	switch {
	case cmd.Field == CEchoRQ && svc == svcVerification:
		st.echoes++
		err = a.Send(msg.Context, &Command{Field: CEchoRSP, RespondingTo: cmd.MessageID,
			AffectedSOPClassUID: VerificationSOPClass, Status: StatusSuccess}, nil)
	case cmd.Field == CStoreRQ && svc == svcStorage:
		err = s.handleStore(ctx, a, msg, st)
	case cmd.Field == CFindRQ && svc == svcFind:
		st.finds++
		err = s.handleFind(ctx, a, msg)
	case cmd.Field == CFindRQ && svc == svcWorklist:
		st.finds++
		err = s.handleWorklist(ctx, a, msg)
	case cmd.Field == CMoveRQ && svc == svcMove:
		st.moves++
		err = s.handleMove(ctx, a, msg)
	case cmd.Field == CGetRQ && svc == svcGet:
		st.gets++
		err = s.handleGet(ctx, a, msg)
	case cmd.IsResponse():
		a.log.Warn("unexpected response; ignored", "command", cmd.String())
		return true
	default:
		a.log.Warn("operation not supported on this presentation context", "command", cmd.String(), "abstract_syntax", msg.Context.AbstractSyntax)
		err = a.Send(msg.Context, &Command{Field: cmd.Field | 0x8000, RespondingTo: cmd.MessageID,
			AffectedSOPClassUID: cmd.AffectedSOPClassUID, Status: StatusUnrecognizedOperation,
			ErrorComment: commandName(cmd.Field) + " not supported for this SOP class"}, nil)
	}
	if err != nil {
		a.log.Warn("request failed", "command", cmd.String(), "err", err)
		return !errors.Is(err, errAbort)
	}
	return true
}

// errAbort marks handler errors after which the association cannot go on.
var errAbort = errors.New("association unusable")
