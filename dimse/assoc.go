package dimse

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Context is an accepted presentation context.
type Context struct {
	ID             byte
	AbstractSyntax string
	TransferSyntax dcm.TransferSyntax
	// SCU and SCP say which roles the association requestor may take on
	// this context (PS3.7 D.3.3.4); without role selection it is SCU only.
	SCU, SCP bool
}

// Message is one DIMSE message: a command and, if the command says so, a
// data set streamed from the wire. Data must be read to EOF or closed
// before the next message can arrive.
type Message struct {
	Context *Context
	Command *Command
	Data    io.ReadCloser
}

// Errors an association's users may test for.
var (
	// ErrReleased: the peer released the association.
	ErrReleased = errors.New("association released")
	// ErrClosed: the association is closed (released, aborted or broken).
	ErrClosed = errors.New("association closed")
)

// maxSendPDU caps the P-DATA-TF PDUs we send, whatever the peer accepts,
// so one association's send buffer stays small.
const maxSendPDU = 1 << 20

// DefaultMaxPDU is the largest P-DATA-TF PDU Molar offers to receive. PDVs
// are streamed, so it bounds no buffer; larger PDUs mean fewer headers.
const DefaultMaxPDU = 1 << 20

// Assoc is an established association, from either side. Reading is done
// by one goroutine that routes requests, responses and C-CANCELs; writing
// is serialised one whole message at a time.
type Assoc struct {
	conn   net.Conn
	br     *bufio.Reader
	log    *slog.Logger
	params assocParams

	CallingAE, CalledAE string
	// PeerImplementation is the peer's implementation class UID and
	// version name, for logs.
	PeerImplementation string

	contexts map[byte]*Context
	order    []*Context // in ID order, for SCUs picking a context

	peerMax uint32 // largest P-DATA-TF the peer accepts (0: no limit)
	ourMax  uint32 // largest we accept (0: no limit)

	wmu  sync.Mutex
	wbuf []byte

	requests  chan *Message
	responses chan *Message
	released  chan struct{} // the peer sent A-RELEASE-RQ (SCP) or -RP (SCU)
	done      chan struct{} // the read loop ended
	err       error         // why it ended; read after done

	cmu     sync.Mutex
	cancels map[uint16]context.CancelFunc
	expect  map[uint16]bool // requests sent whose final response is due

	nextID    uint16
	closeOnce sync.Once
	// busy counts operations in progress on our side (a request being
	// served, a response awaited); the idle timeout applies only at zero.
	busy   atomic.Int32
	closed atomic.Bool
	// feeding is the Data of the message whose data set the read loop is
	// passing on; closing the association closes it, so a reader blocked
	// on a consumer that went away is freed.
	feeding atomic.Pointer[io.PipeReader]
}

type assocParams struct {
	idle time.Duration // no PDU for this long: abort
	// artim bounds waiting for the peer to close after a release or reject.
	artim time.Duration
}

func newAssoc(conn net.Conn, br *bufio.Reader, log *slog.Logger, p assocParams) *Assoc {
	return &Assoc{
		conn: conn, br: br, log: log, params: p,
		contexts:  map[byte]*Context{},
		requests:  make(chan *Message, 2),
		responses: make(chan *Message, 8),
		released:  make(chan struct{}),
		done:      make(chan struct{}),
		cancels:   map[uint16]context.CancelFunc{},
		expect:    map[uint16]bool{},
	}
}

func (a *Assoc) addContext(c *Context) {
	a.contexts[c.ID] = c
	a.order = append(a.order, c)
}

// ContextFor returns the first accepted context for abstract syntax as.
func (a *Assoc) ContextFor(as string) *Context {
	for _, c := range a.order {
		if c.AbstractSyntax == as {
			return c
		}
	}
	return nil
}

// start runs the read loop.
func (a *Assoc) start() { go a.readLoop() }

// Done is closed when the association has ended.
func (a *Assoc) Done() <-chan struct{} { return a.done }

// Err says why the association ended, once Done is closed.
func (a *Assoc) Err() error {
	<-a.done
	return a.err
}

// readLoop reads PDUs until the association ends, routing each message.
// P-DATA values are streamed straight from the socket into the message's
// Data pipe, so a 200 MB data set never sits in memory.
func (a *Assoc) readLoop() {
	var in inbound
	finish := func(err error) {
		if in.data != nil {
			in.data.CloseWithError(fmt.Errorf("data set: %w", unexpectedEOF(errOr(err, ErrClosed))))
		}
		a.err = err
		close(a.done)
		close(a.requests)
		close(a.responses)
		a.cmu.Lock()
		for _, cancel := range a.cancels {
			cancel()
		}
		a.cmu.Unlock()
	}
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("panic reading association", "panic", r)
			a.abort(AbortSourceProvider, AbortNotSpecified)
			finish(fmt.Errorf("panic: %v", r))
		}
	}()
	for {
		if a.params.idle > 0 {
			a.conn.SetReadDeadline(time.Now().Add(a.params.idle))
		}
		// Wait for a PDU's first byte alone, so a timeout never splits a
		// header and an idle period during our own work can be waited out.
		if _, err := a.br.Peek(1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && a.busy.Load() > 0 {
				continue
			}
			finish(a.readFailed(err))
			return
		}
		h, err := readHeader(a.br)
		if err != nil {
			finish(a.readFailed(err))
			return
		}
		switch h.Type {
		case pduPData:
			if err := a.readPData(h.Length, &in); err != nil {
				finish(err)
				return
			}
		case pduReleaseRQ, pduReleaseRP:
			if _, err := io.ReadFull(a.br, make([]byte, 4)); err != nil || h.Length != 4 {
				finish(a.protocolFailed(protoErr(AbortInvalidParamValue, "A-RELEASE PDU of length %d", h.Length)))
				return
			}
			close(a.released)
			finish(ErrReleased)
			return
		case pduAbort:
			body := make([]byte, 4)
			if _, err := io.ReadFull(a.br, body); err != nil || h.Length != 4 {
				finish(fmt.Errorf("malformed A-ABORT: %w", ErrClosed))
				return
			}
			finish(&Abort{Source: body[2], Reason: body[3]})
			return
		case pduAssociateRQ, pduAssociateAC, pduAssociateRJ:
			finish(a.protocolFailed(protoErr(AbortUnexpectedPDU, "PDU type %#02x on an established association", h.Type)))
			return
		default:
			finish(a.protocolFailed(protoErr(AbortUnrecognizedPDU, "unrecognised PDU type %#02x", h.Type)))
			return
		}
	}
}

// inbound is what the read loop carries from one P-DATA-TF to the next.
type inbound struct {
	cmdBuf  []byte // command fragments so far
	cmdCtx  byte
	data    *io.PipeWriter // the data set being received
	dataCtx byte
	discard bool // the consumer closed Data early: drop the rest
}

// readPData reads the PDVs of one P-DATA-TF of the given length,
// reassembling commands, routing messages and feeding data sets. An error
// ends the association (protocol errors have been answered with A-ABORT).
func (a *Assoc) readPData(length uint32, in *inbound) error {
	if a.ourMax != 0 && length > a.ourMax {
		return a.protocolFailed(protoErr(AbortInvalidParamValue, "P-DATA-TF of %d bytes exceeds the negotiated maximum %d", length, a.ourMax))
	}
	left := int64(length)
	if left < 6 {
		return a.protocolFailed(protoErr(AbortInvalidParamValue, "P-DATA-TF of %d bytes holds no PDV", length))
	}
	for left > 0 {
		var hb [6]byte
		if left < 6 {
			return a.protocolFailed(protoErr(AbortInvalidParamValue, "PDV header truncated in its P-DATA-TF"))
		}
		if _, err := io.ReadFull(a.br, hb[:]); err != nil {
			return a.readFailed(unexpectedEOF(err))
		}
		n := int64(binary.BigEndian.Uint32(hb[:]))
		if n < 2 || n > left-4 {
			return a.protocolFailed(protoErr(AbortInvalidParamValue, "PDV of length %d in a P-DATA-TF with %d bytes left", n, left-4))
		}
		left -= 4 + n
		n -= 2
		pcID, mch := hb[4], hb[5]
		pc := a.contexts[pcID]
		if pc == nil {
			return a.protocolFailed(protoErr(AbortInvalidParamValue, "PDV on presentation context %d, which was not accepted", pcID))
		}
		last := mch&2 != 0
		if mch&1 != 0 { // command fragment
			if in.data != nil {
				return a.protocolFailed(protoErr(AbortUnexpectedPDU, "command PDV while a data set was still arriving"))
			}
			if len(in.cmdBuf) > 0 && in.cmdCtx != pcID {
				return a.protocolFailed(protoErr(AbortInvalidParamValue, "command fragments on presentation contexts %d and %d", in.cmdCtx, pcID))
			}
			if int64(len(in.cmdBuf))+n > maxCommandSet {
				return a.protocolFailed(protoErr(AbortInvalidParamValue, "command set longer than %d bytes", maxCommandSet))
			}
			in.cmdCtx = pcID
			start := len(in.cmdBuf)
			in.cmdBuf = append(in.cmdBuf, make([]byte, n)...)
			if _, err := io.ReadFull(a.br, in.cmdBuf[start:]); err != nil {
				return a.readFailed(unexpectedEOF(err))
			}
			if !last {
				continue
			}
			cmd, err := decodeCommand(in.cmdBuf)
			in.cmdBuf = in.cmdBuf[:0]
			if err != nil {
				return a.protocolFailed(protoErr(AbortInvalidParamValue, "%v", err))
			}
			msg := &Message{Context: pc, Command: cmd}
			if cmd.HasDataSet {
				pr, pw := io.Pipe()
				msg.Data = pr
				in.data, in.dataCtx, in.discard = pw, pcID, false
				a.feeding.Store(pr)
				if isDone(a) || a.closed.Load() {
					pr.Close()
				}
			}
			if err := a.route(msg); err != nil {
				return a.protocolFailed(err)
			}
			continue
		}
		// Data set fragment.
		if in.data == nil {
			return a.protocolFailed(protoErr(AbortUnexpectedPDU, "data PDV on context %d without a command announcing it", pcID))
		}
		if pcID != in.dataCtx {
			return a.protocolFailed(protoErr(AbortInvalidParamValue, "data set fragments on presentation contexts %d and %d", in.dataCtx, pcID))
		}
		if err := a.feed(in.data, n, &in.discard); err != nil {
			return a.readFailed(unexpectedEOF(err))
		}
		if last {
			in.data.Close()
			in.data = nil
		}
	}
	return nil
}

// feed passes the next n bytes of the socket to the data set pipe, from
// the read buffer without another copy. Once the consumer has closed the
// pipe, the rest of the data set is read and dropped, keeping the stream
// in step.
func (a *Assoc) feed(data *io.PipeWriter, n int64, discard *bool) error {
	for n > 0 {
		chunk, err := a.br.Peek(int(min(n, int64(a.br.Size()))))
		if err != nil {
			return err
		}
		if !*discard {
			if _, err := data.Write(chunk); err != nil {
				*discard = true
			}
		}
		a.br.Discard(len(chunk))
		n -= int64(len(chunk))
	}
	return nil
}

// route hands a message to whoever waits for it.
func (a *Assoc) route(msg *Message) error {
	c := msg.Command
	switch {
	case c.Field == CCancelRQ:
		a.cmu.Lock()
		cancel := a.cancels[c.RespondingTo]
		a.cmu.Unlock()
		if cancel != nil {
			cancel()
		}
		if msg.Data != nil {
			go io.Copy(io.Discard, msg.Data)
		}
		return nil
	case c.IsResponse():
		a.cmu.Lock()
		expected := a.expect[c.RespondingTo]
		if expected && Kind(c.Status) != KindPending {
			delete(a.expect, c.RespondingTo)
		}
		a.cmu.Unlock()
		if !expected {
			return protoErr(AbortUnexpectedPDU, "%s answers no request of ours", c)
		}
		select {
		case a.responses <- msg:
			return nil
		default:
			return protoErr(AbortUnexpectedPDU, "%s nobody was waiting for", c)
		}
	default:
		select {
		case a.requests <- msg:
			return nil
		default:
			return protoErr(AbortUnexpectedPDU, "%s while %d operations are outstanding; asynchronous operations were not negotiated", c, cap(a.requests))
		}
	}
}

// readFailed turns a read error into the association's end.
func (a *Assoc) readFailed(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		a.log.Warn("association idle too long; aborting", "idle", a.params.idle)
		a.abort(AbortSourceProvider, AbortNotSpecified)
		return fmt.Errorf("idle for %v: %w", a.params.idle, ErrClosed)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("peer closed the connection without releasing: %w", ErrClosed)
	}
	return fmt.Errorf("read: %w", err)
}

// protocolFailed answers a protocol error with an A-ABORT, as PS3.8 9.2 asks.
func (a *Assoc) protocolFailed(err error) error {
	reason := byte(AbortNotSpecified)
	var pe *ProtocolError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	a.log.Warn("protocol error; aborting association", "err", err)
	a.abort(AbortSourceProvider, reason)
	return err
}

// abort sends an A-ABORT and closes the connection.
func (a *Assoc) abort(source, reason byte) {
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(time.Second))
	a.conn.Write((&Abort{Source: source, Reason: reason}).encode())
	a.wmu.Unlock()
	a.close()
}

func (a *Assoc) close() {
	a.closeOnce.Do(func() {
		a.closed.Store(true)
		a.conn.Close()
		if pr := a.feeding.Load(); pr != nil {
			pr.Close()
		}
	})
}

// Abort aborts the association (A-ABORT, service-user) and waits for the
// read loop to end.
func (a *Assoc) Abort() {
	a.abort(AbortSourceUser, AbortNotSpecified)
	<-a.done
}

// Close closes the connection without ceremony; for deferred cleanup.
func (a *Assoc) Close() error {
	a.close()
	<-a.done
	return nil
}

// Release sends A-RELEASE-RQ and waits for the peer's A-RELEASE-RP (or the
// ARTIM timeout), then closes the connection.
func (a *Assoc) Release() error {
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(a.params.artim))
	_, err := a.conn.Write(encodeRelease(pduReleaseRQ))
	a.wmu.Unlock()
	if err != nil {
		a.close()
		<-a.done
		return fmt.Errorf("send A-RELEASE-RQ: %w", err)
	}
	t := time.NewTimer(a.params.artim)
	defer t.Stop()
	select {
	case <-a.released:
		a.close()
		<-a.done
		return nil
	case <-a.done:
		a.close()
		if errors.Is(a.err, ErrReleased) {
			return nil
		}
		return fmt.Errorf("release: %w", a.err)
	case <-t.C:
		a.close()
		<-a.done
		return fmt.Errorf("release: no A-RELEASE-RP within %v", a.params.artim)
	}
}

// replyRelease answers the peer's A-RELEASE-RQ.
func (a *Assoc) replyRelease() error {
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(a.params.artim))
	_, err := a.conn.Write(encodeRelease(pduReleaseRP))
	a.wmu.Unlock()
	return err
}

// linger waits (up to ARTIM) for the requestor to close the transport, as
// PS3.8 7.2 has it do after a release, then closes.
func (a *Assoc) linger() {
	lingerUntilClosed(a.conn, a.br, a.params.artim)
	a.close()
}

// lingerUntilClosed reads and drops PDUs until the peer closes, aborts
// (PS3.8 Sta13: an A-ABORT closes at once) or ARTIM expires.
func lingerUntilClosed(conn net.Conn, br *bufio.Reader, artim time.Duration) {
	conn.SetReadDeadline(time.Now().Add(artim))
	for {
		h, err := readHeader(br)
		if err != nil || h.Type == pduAbort {
			return
		}
		if _, err := io.CopyN(io.Discard, br, int64(h.Length)); err != nil {
			return
		}
	}
}

// NextMessageID returns a fresh message ID for a request.
func (a *Assoc) NextMessageID() uint16 {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.nextID++
	if a.nextID == 0 {
		a.nextID = 1
	}
	return a.nextID
}

// Send writes one message: the command, then the data set from data (if
// not nil) in P-DATA-TF PDUs no larger than the peer accepts.
func (a *Assoc) Send(pc *Context, cmd *Command, data io.Reader) error {
	cmd.HasDataSet = data != nil
	a.wmu.Lock()
	defer a.wmu.Unlock()
	select {
	case <-a.done:
		return fmt.Errorf("send %s: %w", cmd, errOr(a.err, ErrClosed))
	default:
	}
	if !cmd.IsResponse() && cmd.Field != CCancelRQ {
		// Registered before sending: the response may beat our next line.
		a.cmu.Lock()
		a.expect[cmd.MessageID] = true
		a.cmu.Unlock()
	}
	if err := a.sendValue(pc.ID, true, cmd.encode()); err != nil {
		return fmt.Errorf("send %s: %w", cmd, err)
	}
	if data == nil {
		return nil
	}
	if err := a.sendStream(pc.ID, data); err != nil {
		return fmt.Errorf("send %s data set: %w", cmd, err)
	}
	return nil
}

// MinPeerMaxPDU is the smallest maximum PDU length we work with. PS3.8
// sets no floor, but a peer offering less than this is broken or hostile:
// a C-STORE would take millions of PDUs.
const MinPeerMaxPDU = 1024

// chunk is the largest PDV value we put in one P-DATA-TF.
func (a *Assoc) chunk() int {
	max := a.peerMax
	if max == 0 || max > maxSendPDU {
		max = maxSendPDU
	}
	return int(max) - 6
}

func (a *Assoc) buffer() []byte {
	n := 12 + a.chunk()
	if cap(a.wbuf) < n {
		a.wbuf = make([]byte, n)
	}
	return a.wbuf[:n]
}

// sendValue sends a value held in memory, fragmented as needed.
func (a *Assoc) sendValue(pcID byte, command bool, v []byte) error {
	chunk := a.chunk()
	for {
		n := min(len(v), chunk)
		if err := a.writePDV(pcID, command, n == len(v), v[:n]); err != nil {
			return err
		}
		v = v[n:]
		if len(v) == 0 {
			return nil
		}
	}
}

// sendStream sends a data set read from r, one PDU per chunk, peeking one
// byte ahead to know which PDV is the last.
func (a *Assoc) sendStream(pcID byte, r io.Reader) error {
	buf := a.buffer()
	br := bufio.NewReaderSize(r, 32<<10)
	for {
		n, err := io.ReadFull(br, buf[12:])
		last := false
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			last = true
		case err != nil:
			return err
		default:
			if _, perr := br.Peek(1); perr == io.EOF {
				last = true
			} else if perr != nil {
				return perr
			}
		}
		if err := a.writePDU(buf, pcID, false, last, n); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

func (a *Assoc) writePDV(pcID byte, command, last bool, v []byte) error {
	buf := a.buffer()
	copy(buf[12:], v)
	return a.writePDU(buf, pcID, command, last, len(v))
}

// writePDU writes buf[:12+n]: it fills in the PDU and PDV headers.
func (a *Assoc) writePDU(buf []byte, pcID byte, command, last bool, n int) error {
	buf[0], buf[1] = pduPData, 0
	binary.BigEndian.PutUint32(buf[2:], uint32(n+6))
	binary.BigEndian.PutUint32(buf[6:], uint32(n+2))
	buf[10] = pcID
	var mch byte
	if command {
		mch |= 1
	}
	if last {
		mch |= 2
	}
	buf[11] = mch
	if a.params.idle > 0 {
		a.conn.SetWriteDeadline(time.Now().Add(a.params.idle))
	}
	_, err := a.conn.Write(buf[:12+n])
	return err
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// watchCancel registers cancel to run if a C-CANCEL for message id arrives.
func (a *Assoc) watchCancel(id uint16, cancel context.CancelFunc) func() {
	a.cmu.Lock()
	a.cancels[id] = cancel
	a.cmu.Unlock()
	return func() {
		a.cmu.Lock()
		delete(a.cancels, id)
		a.cmu.Unlock()
	}
}

// Response waits for the response to message id, or the association's end,
// or ctx. Responses to other messages are a protocol error.
func (a *Assoc) Response(ctx context.Context, id uint16) (*Message, error) {
	a.busy.Add(1)
	defer a.busy.Add(-1)
	var timeout <-chan time.Time
	if a.params.idle > 0 {
		t := time.NewTimer(a.params.idle)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case msg, ok := <-a.responses:
		if !ok {
			return nil, fmt.Errorf("waiting for the response to message %d: %w", id, errOr(a.err, ErrClosed))
		}
		if msg.Command.RespondingTo != id {
			if msg.Data != nil {
				msg.Data.Close()
			}
			return nil, fmt.Errorf("got %s while waiting for the response to message %d", msg.Command, id)
		}
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timeout:
		return nil, fmt.Errorf("no response to message %d within %v", id, a.params.idle)
	}
}
