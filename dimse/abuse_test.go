package dimse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// Protocol abuse against a running server: each case checks the answer
// PS3.8 asks for and that a healthy association opened before the abuse
// still works after it, as does a new one.

// rawConn is a TCP connection to the server that we drive byte by byte.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(parts ...[]byte) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.conn.Write(cat(parts...)); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// next reads the server's next PDU within d: its type and variable field,
// or the read error (io.EOF when the server closed).
func (r *rawConn) next(d time.Duration) (byte, []byte, error) {
	r.conn.SetReadDeadline(time.Now().Add(d))
	var h [6]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[2:])
	if n > 1<<20 {
		return h[0], nil, fmt.Errorf("PDU type %#02x of %d bytes", h[0], n)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r.br, body)
	return h[0], body, err
}

// expectAbort reads an A-ABORT from the service provider with reason.
func (r *rawConn) expectAbort(reason byte) {
	r.t.Helper()
	typ, body, err := r.next(5 * time.Second)
	if err != nil {
		r.t.Fatalf("want A-ABORT reason %d, got type %#02x % x, %v", reason, typ, body, err)
	}
	if typ != pduAbort || len(body) != 4 {
		r.t.Fatalf("want A-ABORT reason %d, got PDU type %#02x % x", reason, typ, body)
	}
	if body[2] != AbortSourceProvider || body[3] != reason {
		r.t.Fatalf("A-ABORT source %d reason %d, want source %d reason %d", body[2], body[3], AbortSourceProvider, reason)
	}
}

// expectReject reads an A-ASSOCIATE-RJ.
func (r *rawConn) expectReject(result, source, reason byte) {
	r.t.Helper()
	typ, body, err := r.next(5 * time.Second)
	if err != nil || typ != pduAssociateRJ || len(body) != 4 {
		r.t.Fatalf("want A-ASSOCIATE-RJ %d/%d/%d, got type %#02x % x, %v", result, source, reason, typ, body, err)
	}
	if got := [3]byte{body[1], body[2], body[3]}; got != [3]byte{result, source, reason} {
		r.t.Fatalf("A-ASSOCIATE-RJ result/source/reason %d/%d/%d, want %d/%d/%d", got[0], got[1], got[2], result, source, reason)
	}
}

// expectClose waits for the server to close without sending anything,
// and returns how long that took.
func (r *rawConn) expectClose(within time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	typ, body, err := r.next(within)
	var ne net.Error
	switch {
	case err == nil:
		r.t.Fatalf("want a close, got PDU type %#02x % x", typ, body)
	case errors.As(err, &ne) && ne.Timeout():
		r.t.Fatalf("server did not close the connection within %v", within)
	case typ != 0:
		r.t.Fatalf("want a close, got part of a PDU type %#02x", typ)
	}
	return time.Since(start)
}

// associate sends rq and reads the A-ASSOCIATE-AC.
func (r *rawConn) associate(rq *AssociateRQ) *AssociateAC {
	r.t.Helper()
	r.send(rq.encode())
	typ, body, err := r.next(5 * time.Second)
	if err != nil {
		r.t.Fatalf("A-ASSOCIATE-AC: %v", err)
	}
	p, err := decodePDU(typ, body)
	if err != nil {
		r.t.Fatalf("A-ASSOCIATE-AC: %v", err)
	}
	ac, ok := p.(*AssociateAC)
	if !ok {
		r.t.Fatalf("want A-ASSOCIATE-AC, got %#v", p)
	}
	return ac
}

// echoRQ is an A-ASSOCIATE-RQ for Verification on context 1.
func echoRQ(calling string) *AssociateRQ {
	return &AssociateRQ{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: calling, ApplicationContext: ApplicationContext,
		Contexts: []ContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}},
		User:     UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.826.0.1.3680043.10.1001.99"}}
}

// commandPDU is a P-DATA-TF carrying a whole command set on context pc.
func commandPDU(pc byte, c *Command) []byte {
	cmd := c.encode()
	return wirePDU(pduPData, be32(2+len(cmd)), []byte{pc, 0x03}, cmd)
}

var verificationProposal = []Proposal{{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}}

// echoOnce opens an association, echoes and releases it.
func echoOnce(t testing.TB, addr, calling string) error {
	t.Helper()
	d := Dialer{CallingAE: calling, Timeout: 5 * time.Second}
	a, err := d.Associate(context.Background(), addr, "MOLAR", verificationProposal)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Echo(context.Background()); err != nil {
		return err
	}
	return a.Release()
}

// whileHealthy opens an association before abuse runs and echoes on it
// every 100 ms while abuse runs (the server may have a short idle
// timeout), then checks it and a new association still work.
func whileHealthy(t *testing.T, srv *testServer, abuse func(t *testing.T)) {
	t.Helper()
	d := Dialer{CallingAE: "HEALTHY", Timeout: 5 * time.Second}
	ctx := context.Background()
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", verificationProposal)
	if err != nil {
		t.Fatalf("healthy association: %v", err)
	}
	defer a.Close()
	if err := a.Echo(ctx); err != nil {
		t.Fatalf("healthy association, before: %v", err)
	}
	stop := make(chan struct{})
	keepErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				keepErr <- nil
				return
			case <-tick.C:
				if err := a.Echo(ctx); err != nil {
					keepErr <- err
					return
				}
			}
		}
	}()
	abuse(t)
	close(stop)
	if err := <-keepErr; err != nil {
		t.Fatalf("healthy association failed during the abuse: %v", err)
	}
	if err := a.Echo(ctx); err != nil {
		t.Fatalf("healthy association, after: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("healthy association release: %v", err)
	}
	// A released association's slot is freed once its connection is
	// closed, a moment after the release: retry a transient rejection.
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := echoOnce(t, srv.Addr, "FRESH")
		if err == nil {
			return
		}
		var rj *AssociateRJ
		if !errors.As(err, &rj) || rj.Result != RejectTransient || time.Now().After(deadline) {
			t.Fatalf("new association after the abuse: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settleGoroutines waits for the goroutine count to come back to at most
// base+slack.
func settleGoroutines(t *testing.T, base, slack int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before the server started:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAbuse(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Run("server", func(t *testing.T) {
		srv := startServer(t, func(s *Server) {
			s.ARTIMTimeout = 300 * time.Millisecond
			s.IdleTimeout = 600 * time.Millisecond
			s.Policy.MaxPDU = 16384
		})
		abuse := func(name string, fn func(t *testing.T)) {
			t.Run(name, func(t *testing.T) { whileHealthy(t, srv, fn) })
		}
		// Before association (PS3.8 9.2, state Sta2).
		abuse("truncated PDU header then close", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send([]byte{pduAssociateRQ, 0, 0})
			c.conn.(*net.TCPConn).CloseWrite()
			c.expectClose(2 * time.Second)
		})
		abuse("A-ASSOCIATE-RQ shorter than its length field, then stall", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			full := echoRQ("STALLER").encode()
			c.send(full[:len(full)/2])
			if took := c.expectClose(3 * time.Second); took < 200*time.Millisecond {
				t.Fatalf("closed after %v, before ARTIM (300ms)", took)
			}
		})
		abuse("nothing sent at all", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.expectClose(3 * time.Second)
		})
		abuse("P-DATA-TF before association", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send(commandPDU(1, &Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass}))
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("A-RELEASE-RQ before association", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send(encodeRelease(pduReleaseRQ))
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("A-ASSOCIATE-AC sent to the acceptor", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send((&AssociateAC{ProtocolVersion: 1, CalledAE: "MOLAR", CallingAE: "X", ApplicationContext: ApplicationContext}).encode())
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("unknown PDU type 0x09", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send(wirePDU(0x09, []byte{0, 0, 0, 0}))
			c.expectAbort(AbortUnrecognizedPDU)
		})
		abuse("control PDU of length 0x7FFFFFFF", func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c := dialRaw(t, srv.Addr)
			c.send([]byte{pduAssociateRQ, 0, 0x7F, 0xFF, 0xFF, 0xFF}, make([]byte, 100))
			c.expectAbort(AbortInvalidParamValue)
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
				t.Fatalf("%d MB allocated answering it", d>>20)
			}
		})
		abuse("malformed A-ASSOCIATE-RQ", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send(wireRQ(wireAppContext(), wireContextRQ(2, VerificationSOPClass, dcm.ImplicitVRLittleEndian)))
			c.expectAbort(AbortInvalidParamValue)
		})
		abuse("called AE title wrong", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			rq := echoRQ("SCU")
			rq.CalledAE = "NOT_MOLAR"
			c.send(rq.encode())
			c.expectReject(RejectPermanent, RejectSourceUser, RejectCalledAE)
		})
		abuse("application context not DICOM's", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			rq := echoRQ("SCU")
			rq.ApplicationContext = "1.2.840.10008.3.1.1.2"
			c.send(rq.encode())
			c.expectReject(RejectPermanent, RejectSourceUser, RejectAppContext)
		})
		abuse("protocol version 0", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			rq := echoRQ("SCU")
			rq.ProtocolVersion = 0
			c.send(rq.encode())
			c.expectReject(RejectPermanent, RejectSourceACSE, RejectProtocolVer)
		})

		// On an established association (state Sta6).
		established := func(t *testing.T) *rawConn {
			c := dialRaw(t, srv.Addr)
			ac := c.associate(echoRQ("ABUSER"))
			if ac.User.MaxLength != 16384 || len(ac.Contexts) != 1 || ac.Contexts[0].Result != ResultAcceptance {
				t.Fatalf("A-ASSOCIATE-AC %+v", ac)
			}
			return c
		}
		echo := &Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass}
		abuse("established: echo works (control case)", func(t *testing.T) {
			c := established(t)
			c.send(commandPDU(1, echo))
			typ, body, err := c.next(5 * time.Second)
			if err != nil || typ != pduPData {
				t.Fatalf("got %#02x, %v", typ, err)
			}
			pd, err := decodePData(body)
			if err != nil {
				t.Fatal(err)
			}
			rsp, err := decodeCommand(pd[0].Data)
			if err != nil || rsp.Field != CEchoRSP || rsp.Status != StatusSuccess || rsp.RespondingTo != 1 {
				t.Fatalf("C-ECHO-RSP %+v, %v", rsp, err)
			}
			c.send(encodeRelease(pduReleaseRQ))
			if typ, _, err := c.next(5 * time.Second); err != nil || typ != pduReleaseRP {
				t.Fatalf("want A-RELEASE-RP, got %#02x, %v", typ, err)
			}
		})
		abuse("P-DATA-TF over the negotiated maximum length", func(t *testing.T) {
			c := established(t)
			c.send(wirePDU(pduPData, be32(20000-4), []byte{1, 0x00}, make([]byte, 20000-6)))
			c.expectAbort(AbortInvalidParamValue)
		})
		for _, pcID := range []byte{3, 5, 2} {
			abuse(fmt.Sprintf("PDV on presentation context %d, not accepted", pcID), func(t *testing.T) {
				// Context 3 is proposed and refused, 5 never proposed, 2 even.
				c := dialRaw(t, srv.Addr)
				rq := echoRQ("ABUSER")
				rq.Contexts = append(rq.Contexts, ContextRQ{ID: 3, AbstractSyntax: "1.2.826.0.1.3680043.10.1001.404", TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}})
				ac := c.associate(rq)
				if len(ac.Contexts) != 2 || ac.Contexts[1].ID != 3 || ac.Contexts[1].Result != ResultAbstractSyntaxNotSupported {
					t.Fatalf("contexts %+v", ac.Contexts)
				}
				c.send(commandPDU(pcID, echo))
				c.expectAbort(AbortInvalidParamValue)
			})
		}
		for _, bad := range []struct {
			name string
			pdu  []byte
		}{
			{"PDV length 0", wirePDU(pduPData, be32(0), []byte{1, 3})},
			{"PDV length 1", wirePDU(pduPData, be32(1), []byte{1, 3})},
			{"PDV length beyond its PDU", wirePDU(pduPData, be32(100), []byte{1, 3}, make([]byte, 20))},
			{"P-DATA-TF of 4 bytes", wirePDU(pduPData, be32(2))},
			{"PDV header split by the PDU end", wirePDU(pduPData, be32(3), []byte{1, 3, 0}, []byte{0, 0, 0})},
		} {
			abuse("wrong PDV length: "+bad.name, func(t *testing.T) {
				c := established(t)
				c.send(bad.pdu)
				c.expectAbort(AbortInvalidParamValue)
			})
		}
		for _, bad := range []struct {
			name string
			cmd  []byte
		}{
			{"random bytes", []byte("\x99\x77this is not a command set at all")},
			{"data set elements", cat(cmdElem(0x0010, 0x0010, []byte("DOE^JOHN")), cmdElem(0, 0x0100, le16(CEchoRQ)))},
			{"no Command Field", withGroupLength(cmdElem(0, 0x0110, le16(1)), cmdElem(0, 0x0800, le16(0x0101)))},
			{"element overrun", cat(cmdElem(0, 0x0100, le16(CEchoRQ)), []byte{0, 0, 0, 8, 0xFF, 0xFF, 0, 0, 1, 1})},
		} {
			abuse("command set garbage: "+bad.name, func(t *testing.T) {
				c := established(t)
				c.send(wirePDU(pduPData, be32(2+len(bad.cmd)), []byte{1, 0x03}, bad.cmd))
				c.expectAbort(AbortInvalidParamValue)
			})
		}
		abuse("data PDV without a command", func(t *testing.T) {
			c := established(t)
			c.send(wirePDU(pduPData, be32(2+4), []byte{1, 0x02}, []byte{8, 0, 0x16, 0}))
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("second command before the first's data set", func(t *testing.T) {
			// The first command is held until its data set starts: the
			// second must still be refused, not taken for its data.
			c := established(t)
			withData := *echo
			withData.HasDataSet = true
			c.send(commandPDU(1, &withData), commandPDU(1, echo))
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("A-ASSOCIATE-RQ on an established association", func(t *testing.T) {
			c := established(t)
			c.send(echoRQ("AGAIN").encode())
			c.expectAbort(AbortUnexpectedPDU)
		})
		abuse("unknown PDU type on an established association", func(t *testing.T) {
			c := established(t)
			c.send(wirePDU(0x0A, []byte{0, 0, 0, 0}))
			c.expectAbort(AbortUnrecognizedPDU)
		})
		abuse("stall in the middle of a P-DATA-TF", func(t *testing.T) {
			c := established(t)
			full := commandPDU(1, echo)
			c.send(full[:20])
			start := time.Now()
			c.expectAbort(AbortNotSpecified)
			if took := time.Since(start); took < 400*time.Millisecond {
				t.Fatalf("aborted after %v, before the 600ms idle timeout", took)
			}
		})
		abuse("stall after A-ASSOCIATE-AC", func(t *testing.T) {
			c := established(t)
			c.expectAbort(AbortNotSpecified)
		})
	})
	settleGoroutines(t, base, 2)
}

func TestAbuseTooManyAssociations(t *testing.T) {
	srv := startServer(t, func(s *Server) { s.MaxAssociations = 2 })
	whileHealthy(t, srv, func(t *testing.T) {
		// The healthy association holds one slot; take the other.
		d := Dialer{CallingAE: "HOLDER", Timeout: 5 * time.Second}
		held, err := d.Associate(context.Background(), srv.Addr, "MOLAR", verificationProposal)
		if err != nil {
			t.Fatal(err)
		}
		c := dialRaw(t, srv.Addr)
		c.send(echoRQ("THIRD").encode())
		c.expectReject(RejectTransient, RejectSourcePresent, RejectLocalLimitExcd)
		c.conn.Close()
		if err := held.Echo(context.Background()); err != nil {
			t.Fatalf("held association: %v", err)
		}
		if err := held.Release(); err != nil {
			t.Fatal(err)
		}
		// The slot comes back once the release is done.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := echoOnce(t, srv.Addr, "AFTER")
			if err == nil {
				break
			}
			var rj *AssociateRJ
			if !errors.As(err, &rj) || time.Now().After(deadline) {
				t.Fatalf("association after a slot was freed: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestAbuseUnknownCallingAE(t *testing.T) {
	srv := startServer(t, func(s *Server) {
		s.Policy.OpenQuery = false
		s.Policy.Peers = []Peer{{AETitle: "KNOWN", Host: "127.0.0.1", Port: 11112}}
	})
	queryOnly := func(calling string) *AssociateRQ {
		rq := echoRQ(calling)
		rq.Contexts = []ContextRQ{
			{ID: 1, AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
			{ID: 3, AbstractSyntax: StudyRootMove, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
		}
		return rq
	}
	whileHealthy(t, srv, func(t *testing.T) {
		c := dialRaw(t, srv.Addr)
		c.send(queryOnly("STRANGER").encode())
		c.expectReject(RejectPermanent, RejectSourceUser, RejectCallingAE)

		// Storage from the same AE is accepted; its query contexts are not.
		rq := queryOnly("STRANGER")
		rq.Contexts = append(rq.Contexts, ContextRQ{ID: 5, AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}})
		ac := dialRaw(t, srv.Addr).associate(rq)
		want := map[byte]byte{1: ResultUserRejection, 3: ResultUserRejection, 5: ResultAcceptance}
		for _, pc := range ac.Contexts {
			if want[pc.ID] != pc.Result {
				t.Errorf("context %d: result %d, want %d", pc.ID, pc.Result, want[pc.ID])
			}
		}

		// A known peer may query.
		ac = dialRaw(t, srv.Addr).associate(queryOnly("KNOWN"))
		for _, pc := range ac.Contexts {
			if pc.Result != ResultAcceptance {
				t.Errorf("known peer: context %d result %d", pc.ID, pc.Result)
			}
		}
	})
	// A storage-only unknown AE can store, end to end.
	d := Dialer{CallingAE: "STRANGER", Timeout: 5 * time.Second}
	a, err := d.Associate(context.Background(), srv.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := synth.Bytes(synth.Spec{PatientID: "9990000018", Rows: 8, Columns: 8})
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := a.Store(context.Background(), StoreRequest{SOPClassUID: f.Dataset.String(dcm.SOPClassUID), SOPInstanceUID: f.Dataset.String(dcm.SOPInstanceUID),
		TransferSyntax: f.TransferSyntax.UID, Data: bytes.NewReader(b[f.DatasetOffset:])})
	if err != nil || rsp.Status != StatusSuccess {
		t.Fatalf("C-STORE from an unknown AE: %+v, %v", rsp, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestAbuseUserIdentity(t *testing.T) {
	srv := startServer(t, func(s *Server) {
		s.Policy.Users = map[string]string{"alice": "secret"}
		s.Policy.RequireUser = true
	})
	withIdentity := func(id *UserIdentity) *AssociateRQ {
		rq := echoRQ("SCU")
		rq.User.Identity = id
		return rq
	}
	// The healthy association needs a user too.
	healthyIdentity := &UserIdentity{Type: IdentityUsernamePassword, Primary: []byte("alice"), Secondary: []byte("secret")}
	d := Dialer{CallingAE: "HEALTHY", Timeout: 5 * time.Second, Identity: healthyIdentity}
	healthy, err := d.Associate(context.Background(), srv.Addr, "MOLAR", verificationProposal)
	if err != nil {
		t.Fatalf("association with the right password: %v", err)
	}
	defer healthy.Close()

	t.Run("right password, positive response requested", func(t *testing.T) {
		c := dialRaw(t, srv.Addr)
		c.send(withIdentity(&UserIdentity{Type: IdentityUsernamePassword, PositiveResponseRequested: true, Primary: []byte("alice"), Secondary: []byte("secret")}).encode())
		typ, body, err := c.next(5 * time.Second)
		if err != nil || typ != pduAssociateAC {
			t.Fatalf("got %#02x, %v", typ, err)
		}
		// PS3.7 D.3.3.7.2: item 0x59 with a zero-length server response.
		if !bytes.Contains(body, []byte{itemUserIdentityAC, 0, 0, 2, 0, 0}) {
			t.Fatalf("no user identity response sub-item in % x", body)
		}
	})
	t.Run("right password, no positive response requested", func(t *testing.T) {
		ac := dialRaw(t, srv.Addr).associate(withIdentity(&UserIdentity{Type: IdentityUsernamePassword, Primary: []byte("alice"), Secondary: []byte("secret")}))
		if ac.User.IdentityResponse != nil {
			t.Fatalf("identity response %v not asked for", *ac.User.IdentityResponse)
		}
	})
	for _, bad := range []struct {
		name string
		id   *UserIdentity
	}{
		{"missing identity", nil},
		{"wrong password", &UserIdentity{Type: IdentityUsernamePassword, PositiveResponseRequested: true, Primary: []byte("alice"), Secondary: []byte("Secret")}},
		{"empty password", &UserIdentity{Type: IdentityUsernamePassword, Primary: []byte("alice")}},
		{"unknown user", &UserIdentity{Type: IdentityUsernamePassword, Primary: []byte("mallory"), Secondary: []byte("secret")}},
		{"username only", &UserIdentity{Type: IdentityUsername, Primary: []byte("alice")}},
		{"password as a JWT", &UserIdentity{Type: IdentityJWT, Primary: []byte("secret")}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send(withIdentity(bad.id).encode())
			c.expectReject(RejectPermanent, RejectSourceUser, RejectNoReason)
		})
	}
	t.Run("DCMTK storescu", func(t *testing.T) {
		storescu := needTool(t, "storescu")
		file := filepath.Join(t.TempDir(), "io.dcm")
		b, err := synth.Bytes(synth.Spec{PatientID: "9990000018", Rows: 8, Columns: 8})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// echoscu 3.6.7 has no user identity options; storescu has.
		run := func(args ...string) (string, error) {
			args = append(append([]string{"-aet", "DCMTK", "-aec", "MOLAR", "-to", "10"}, args...), "127.0.0.1", strconv.Itoa(srv.Port), file)
			out, err := exec.Command(storescu, args...).CombinedOutput()
			return string(out), err
		}
		if out, err := run("--user", "alice", "--password", "secret", "--pos-response"); err != nil {
			t.Fatalf("storescu with the right password: %v\n%s", err, out)
		}
		out, err := run("--user", "alice", "--password", "wrong")
		if err == nil || !strings.Contains(out, "Association Rejected") {
			t.Fatalf("storescu with a wrong password: %v\n%s", err, out)
		}
		out, err = run()
		if err == nil || !strings.Contains(out, "Association Rejected") {
			t.Fatalf("storescu without a user: %v\n%s", err, out)
		}
	})
	if err := healthy.Echo(context.Background()); err != nil {
		t.Fatalf("healthy association after the rejections: %v", err)
	}
	if err := healthy.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestRequireUserWithoutUsers: RequireUser "rejects associations without a
// valid user identity"; with no users configured none is valid, so every
// association must be rejected rather than every one let in.
func TestRequireUserWithoutUsers(t *testing.T) {
	srv := startServer(t, func(s *Server) { s.Policy.RequireUser = true })
	c := dialRaw(t, srv.Addr)
	c.send(echoRQ("NOBODY").encode())
	typ, body, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if typ != pduAssociateRJ {
		t.Fatalf("RequireUser with no users configured: association without user identity answered with PDU type %#02x (% x), want A-ASSOCIATE-RJ", typ, body[:min(len(body), 16)])
	}
}

// TestAbuseTinyMaxLength: a requestor announcing a maximum P-DATA-TF
// length too small to carry any PDV value (PS3.8 9.3.5: every PDV has a
// 6-byte header) must not make the server flood it with empty PDVs or
// panic; a length that fits one byte per PDV is legal, if silly, and must
// work.
func TestAbuseTinyMaxLength(t *testing.T) {
	srv := startServer(t, nil)
	for _, maxLen := range []uint32{1, 5, 6, 7, 12} {
		t.Run(fmt.Sprint(maxLen), func(t *testing.T) {
			logStart := len(srv.Logs.String())
			whileHealthy(t, srv, func(t *testing.T) {
				c := dialRaw(t, srv.Addr)
				rq := echoRQ("TINY")
				rq.User.MaxLength = maxLen
				c.send(rq.encode())
				typ, body, err := c.next(5 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				switch typ {
				case pduAssociateRJ, pduAbort:
					return // refusing such a peer is fine
				case pduAssociateAC:
				default:
					t.Fatalf("PDU type %#02x % x", typ, body)
				}
				c.send(commandPDU(1, &Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: VerificationSOPClass}))
				var cmd []byte
				for pdus := 0; ; pdus++ {
					typ, body, err := c.next(2 * time.Second)
					if err != nil {
						t.Fatalf("after %d P-DATA-TF PDUs of the C-ECHO-RSP: %v", pdus, err)
					}
					if typ == pduAbort {
						return // giving up on such a peer is fine too
					}
					if typ != pduPData {
						t.Fatalf("PDU type %#02x", typ)
					}
					if maxLen >= 7 && len(body) > int(maxLen) {
						t.Fatalf("P-DATA-TF of %d bytes, peer accepts %d", len(body), maxLen)
					}
					pd, err := decodePData(body)
					if err != nil {
						t.Fatal(err)
					}
					cmd = append(cmd, pd[0].Data...)
					if pd[0].Last {
						break
					}
					if pdus > 10000 {
						t.Fatalf("over %d P-DATA-TF PDUs for one C-ECHO-RSP (last %d bytes: % x): the server is flooding", pdus, len(body), body)
					}
				}
				rsp, err := decodeCommand(cmd)
				if err != nil || rsp.Field != CEchoRSP {
					t.Fatalf("C-ECHO-RSP %+v, %v", rsp, err)
				}
			})
			if logs := srv.Logs.String()[logStart:]; strings.Contains(logs, "panic") {
				i := strings.Index(logs, "panic")
				t.Fatalf("server panicked: %s", logs[i:min(len(logs), i+300)])
			}
		})
	}
}

// TestDialerTinyPeerMaxLength: an acceptor announcing a maximum length too
// small for any PDV value must make our SCU fail, not panic or flood.
func TestDialerTinyPeerMaxLength(t *testing.T) {
	for _, maxLen := range []uint32{3, 6} {
		t.Run(fmt.Sprint(maxLen), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			received := make(chan int, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					received <- -1
					return
				}
				defer c.Close()
				r := &rawConn{t: t, conn: c, br: bufio.NewReader(c)}
				if _, _, err := r.next(5 * time.Second); err != nil {
					received <- -1
					return
				}
				ac := &AssociateAC{ProtocolVersion: 1, CalledAE: "FAKE", CallingAE: "SCU", ApplicationContext: ApplicationContext,
					Contexts: []ContextAC{{ID: 1, TransferSyntax: dcm.ImplicitVRLittleEndian}}, User: UserInfo{MaxLength: maxLen}}
				c.Write(ac.encode())
				n := 0
				for n < 10000 {
					if _, _, err := r.next(2 * time.Second); err != nil {
						break
					}
					n++
				}
				received <- n
			}()
			d := Dialer{CallingAE: "SCU", Timeout: 5 * time.Second, IdleTimeout: time.Second}
			a, err := d.Associate(context.Background(), ln.Addr().String(), "FAKE", verificationProposal)
			if err != nil {
				return // refusing the association is fine
			}
			echoErr := make(chan error, 1)
			go func() {
				defer func() {
					if r := recover(); r != nil {
						echoErr <- fmt.Errorf("panic: %v", r)
					}
				}()
				echoErr <- a.Echo(context.Background())
			}()
			var n int
			select {
			case err = <-echoErr:
				a.Close()
				n = <-received
			case n = <-received:
				a.Close()
				err = <-echoErr
			}
			if err != nil && strings.HasPrefix(err.Error(), "panic") {
				t.Fatalf("Echo with a peer maximum length of %d: %v", maxLen, err)
			}
			if n >= 10000 {
				t.Fatalf("Echo with a peer maximum length of %d sent over %d PDUs", maxLen, n)
			}
			if err == nil {
				t.Fatal("Echo succeeded against a fake SCP that never answers")
			}
		})
	}
}

// TestAbuseUnsolicitedResponseWithDataSet: a response nobody asked for,
// announcing a data set, must not leave the association's reader stuck
// feeding a data set no one reads: once the peer goes away, its
// association slot must be freed.
func TestAbuseUnsolicitedResponseWithDataSet(t *testing.T) {
	srv := startServer(t, func(s *Server) { s.MaxAssociations = 2 })
	whileHealthy(t, srv, func(t *testing.T) {
		c := dialRaw(t, srv.Addr)
		c.associate(echoRQ("RESPONDER"))
		rsp := &Command{Field: CEchoRSP, RespondingTo: 77, AffectedSOPClassUID: VerificationSOPClass, Status: StatusSuccess, HasDataSet: true}
		cmd := rsp.encode()
		c.send(wirePDU(pduPData, be32(2+len(cmd)), []byte{1, 0x03}, cmd),
			wirePDU(pduPData, be32(2+8), []byte{1, 0x02}, []byte{0x08, 0x00, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00}))
		// An A-ABORT or nothing; either way the peer then goes away.
		c.next(300 * time.Millisecond)
		c.conn.Close()

		deadline := time.Now().Add(3 * time.Second)
		for {
			err := echoOnce(t, srv.Addr, "NEXT")
			if err == nil {
				return
			}
			var rj *AssociateRJ
			if !errors.As(err, &rj) {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				// Unstick the reader so the server can shut down.
				unstickResponses(srv)
				t.Fatalf("association slot still held 3s after the peer that sent an unsolicited response with a data set left: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// unstickResponses closes the data of responses nobody will read, so
// readers blocked feeding them can go on.
func unstickResponses(srv *testServer) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for a := range srv.active {
	drain:
		for {
			select {
			case m, ok := <-a.responses:
				if !ok {
					break drain
				}
				if m.Data != nil {
					m.Data.Close()
				}
			default:
				break drain
			}
		}
	}
}

// fakeSCP accepts one association on 127.0.0.1, accepting every proposed
// context in its first transfer syntax, and answers each request with
// answer (whole PDUs); it answers A-RELEASE-RQ.
func fakeSCP(t *testing.T, answer func(pc byte, cmd *Command) [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := &rawConn{t: t, conn: c, br: bufio.NewReader(c)}
		var cmdBuf []byte
		for {
			typ, body, err := r.next(10 * time.Second)
			if err != nil {
				return
			}
			switch typ {
			case pduAssociateRQ:
				p, err := decodePDU(typ, body)
				if err != nil {
					return
				}
				rq := p.(*AssociateRQ)
				ac := &AssociateAC{ProtocolVersion: 1, CalledAE: rq.CalledAE, CallingAE: rq.CallingAE, ApplicationContext: ApplicationContext,
					User: UserInfo{MaxLength: 16384}}
				for _, pc := range rq.Contexts {
					ac.Contexts = append(ac.Contexts, ContextAC{ID: pc.ID, TransferSyntax: pc.TransferSyntaxes[0]})
				}
				c.Write(ac.encode())
			case pduPData:
				pd, err := decodePData(body)
				if err != nil {
					return
				}
				for _, v := range pd {
					if !v.Command {
						continue
					}
					cmdBuf = append(cmdBuf, v.Data...)
					if !v.Last {
						continue
					}
					cmd, err := decodeCommand(cmdBuf)
					cmdBuf = nil
					if err != nil {
						return
					}
					for _, b := range answer(v.ContextID, cmd) {
						c.Write(b)
					}
				}
			case pduReleaseRQ:
				c.Write(encodeRelease(pduReleaseRP))
				return
			default:
				return
			}
		}
	}()
	return ln.Addr().String()
}

// TestSCUResponseWithUnreadDataSet: a peer whose response announces a
// data set where none belongs (a C-ECHO-RSP, a final C-FIND-RSP) must not
// leave our association's reader blocked on a data set nobody reads, so
// that the next operation, Release and Close all hang.
func TestSCUResponseWithUnreadDataSet(t *testing.T) {
	junk := []byte{0x08, 0x00, 0x16, 0x00, 0x02, 0x00, 0x00, 0x00, '1', 0}
	withData := func(pc byte, rsp *Command) [][]byte {
		rsp.HasDataSet = true
		return [][]byte{commandPDU(pc, rsp), wirePDU(pduPData, be32(2+len(junk)), []byte{pc, 0x02}, junk)}
	}
	echoRSP := func(cmd *Command) *Command {
		return &Command{Field: CEchoRSP, RespondingTo: cmd.MessageID, AffectedSOPClassUID: VerificationSOPClass, Status: StatusSuccess}
	}
	cases := []struct {
		name      string
		proposals []Proposal
		answer    func(pc byte, cmd *Command) [][]byte
		op        func(a *Assoc) error
	}{
		{"C-ECHO-RSP with a data set", verificationProposal,
			func(pc byte, cmd *Command) [][]byte {
				if cmd.MessageID == 1 {
					return withData(pc, echoRSP(cmd))
				}
				return [][]byte{commandPDU(pc, echoRSP(cmd))}
			},
			func(a *Assoc) error { return a.Echo(context.Background()) }},
		{"final C-FIND-RSP with a data set", findProposals,
			func(pc byte, cmd *Command) [][]byte {
				if cmd.Field == CFindRQ {
					return withData(pc, &Command{Field: CFindRSP, RespondingTo: cmd.MessageID, AffectedSOPClassUID: StudyRootFind, Status: StatusSuccess})
				}
				return [][]byte{commandPDU(pc, echoRSP(cmd))}
			},
			func(a *Assoc) error {
				return a.Find(context.Background(), StudyRootFind, dcm.Attrs{{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}}},
					func(dcm.Attrs) error { return nil })
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeSCP(t, tc.answer)
			d := Dialer{CallingAE: "SCU", Timeout: time.Second, IdleTimeout: time.Second}
			a, err := d.Associate(context.Background(), addr, "FAKE", tc.proposals)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				tc.op(a) // success or an error: either is fine
				if err := a.Echo(context.Background()); err != nil {
					a.Close()
					done <- nil // the association was given up on; it did not hang
					return
				}
				done <- a.Release()
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Logf("release: %v", err)
				}
			case <-time.After(4 * time.Second):
				t.Fatal("the next operation, Release or Close hung: the read loop is blocked feeding a data set nobody reads")
			}
		})
	}
}

// TestPipelinedStoresWait: a peer that sends C-STOREs without waiting for
// the answers, though it negotiated no asynchronous operations, is held
// back (the read loop stops reading) rather than aborted, whether its
// data sets arrive whole or in fragments; every instance is stored and
// answered in order.
func TestPipelinedStoresWait(t *testing.T) {
	srv := startServer(t, nil)
	for _, fragment := range []int{0, 1000} {
		t.Run(fmt.Sprintf("fragment=%d", fragment), func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			rq := echoRQ("PIPELINER")
			rq.Contexts = []ContextRQ{{ID: 1, AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}}
			if ac := c.associate(rq); ac.Contexts[0].Result != ResultAcceptance {
				t.Fatalf("contexts %+v", ac.Contexts)
			}
			const n = 8
			var pdus [][]byte
			for i := range n {
				sop := fmt.Sprintf("1.2.826.0.1.3680043.10.1001.77.%d.%d", fragment, i)
				b, err := synth.Bytes(synth.Spec{PatientID: "9990000018", SOPInstanceUID: sop, Rows: 32, Columns: 32, Seed: int64(i)})
				if err != nil {
					t.Fatal(err)
				}
				f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pdus = append(pdus, commandPDU(1, &Command{Field: CStoreRQ, MessageID: uint16(i + 1),
					AffectedSOPClassUID: synth.IntraOralForPresentation, AffectedSOPInstanceUID: sop, HasDataSet: true}))
				data := b[f.DatasetOffset:]
				for len(data) > 0 {
					k := len(data)
					if fragment > 0 {
						k = min(k, fragment)
					}
					flags := byte(0x00)
					if k == len(data) {
						flags = 0x02
					}
					pdus = append(pdus, wirePDU(pduPData, be32(2+k), []byte{1, flags}, data[:k]))
					data = data[k:]
				}
			}
			c.send(pdus...)
			for i := range n {
				typ, body, err := c.next(10 * time.Second)
				if err != nil || typ != pduPData {
					t.Fatalf("answer %d: PDU type %#02x, %v", i+1, typ, err)
				}
				pd, err := decodePData(body)
				if err != nil {
					t.Fatal(err)
				}
				rsp, err := decodeCommand(pd[0].Data)
				if err != nil || rsp.Field != CStoreRSP || rsp.Status != StatusSuccess || rsp.RespondingTo != uint16(i+1) {
					t.Fatalf("answer %d: %+v, %v", i+1, rsp, err)
				}
			}
			c.send(encodeRelease(pduReleaseRQ))
			if typ, _, err := c.next(5 * time.Second); err != nil || typ != pduReleaseRP {
				t.Fatalf("want A-RELEASE-RP, got %#02x, %v", typ, err)
			}
		})
	}
}
