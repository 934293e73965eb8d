package dimse

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Peer is a known DICOM node: it may query and retrieve, and is a C-MOVE
// destination.
type Peer struct {
	AETitle string
	Host    string
	Port    int
	TLS     bool // connect to it with TLS
}

// Addr is the peer's host:port.
func (p Peer) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Policy decides which associations and presentation contexts are
// accepted. The zero value is not useful; start from DefaultPolicy.
type Policy struct {
	AETitle string
	// CheckCalledAE rejects associations addressed to another AE title.
	CheckCalledAE bool
	Peers         []Peer
	// CheckPeerHost makes a calling AE title count as a known peer only
	// when the association comes from that peer's host.
	CheckPeerHost bool
	// OpenQuery lets unknown calling AEs query, retrieve and read the
	// worklist. Off by default: those services hand out patient data,
	// while Verification and Storage are open to any practice device.
	OpenQuery bool
	// StorageSOPClasses and TransferSyntaxes accepted for storage.
	StorageSOPClasses []string
	TransferSyntaxes  []string
	// Users, when not empty, are checked against user identity
	// negotiation (username and password); an authenticated user may
	// query and retrieve like a known peer.
	Users map[string]string
	// RequireUser rejects associations without a valid user identity.
	RequireUser bool
	// MaxPDU is the largest P-DATA-TF PDU we accept (0: no limit).
	MaxPDU uint32
}

// DefaultPolicy is the acceptance policy of an unconfigured server.
func DefaultPolicy(aet string) Policy {
	return Policy{
		AETitle:           aet,
		CheckCalledAE:     true,
		StorageSOPClasses: DefaultStorageSOPClasses,
		TransferSyntaxes:  DefaultTransferSyntaxes,
		MaxPDU:            DefaultMaxPDU,
	}
}

// Peer returns the known peer with AE title aet.
func (p *Policy) Peer(aet string) (Peer, bool) {
	for _, peer := range p.Peers {
		if peer.AETitle == aet {
			return peer, true
		}
	}
	return Peer{}, false
}

// negotiation is the outcome of an A-ASSOCIATE-RQ.
type negotiation struct {
	ac       *AssociateAC
	rj       *AssociateRJ
	contexts []*Context
	why      string // for the log, when rejected
	known    bool   // the caller is a known peer or an authenticated user
	user     string
}

// negotiate applies the policy to rq from remote.
func (p *Policy) negotiate(ctx context.Context, rq *AssociateRQ, remote net.Addr) negotiation {
	reject := func(result, source, reason byte, why string) negotiation {
		return negotiation{rj: &AssociateRJ{Result: result, Source: source, Reason: reason}, why: why}
	}
	if rq.ProtocolVersion&1 == 0 {
		return reject(RejectPermanent, RejectSourceACSE, RejectProtocolVer, "protocol version 1 not offered")
	}
	if rq.ApplicationContext != ApplicationContext {
		return reject(RejectPermanent, RejectSourceUser, RejectAppContext, "application context "+rq.ApplicationContext)
	}
	if p.CheckCalledAE && rq.CalledAE != p.AETitle {
		return reject(RejectPermanent, RejectSourceUser, RejectCalledAE, "called AE title "+rq.CalledAE+" is not "+p.AETitle)
	}
	if rq.User.MaxLength != 0 && rq.User.MaxLength < MinPeerMaxPDU {
		return reject(RejectPermanent, RejectSourceUser, RejectNoReason, fmt.Sprintf("maximum PDU length %d is below %d", rq.User.MaxLength, MinPeerMaxPDU))
	}
	n := negotiation{known: p.knownPeer(ctx, rq.CallingAE, remote)}

	var identityResponse *[]byte
	if len(p.Users) > 0 || p.RequireUser {
		id := rq.User.Identity
		switch {
		case id == nil && p.RequireUser:
			return reject(RejectPermanent, RejectSourceUser, RejectNoReason, "no user identity offered and one is required")
		case id == nil:
		case id.Type == IdentityUsernamePassword && p.checkPassword(string(id.Primary), id.Secondary):
			n.known, n.user = true, string(id.Primary)
			if id.PositiveResponseRequested {
				// PS3.7 D.3.3.7.2: username/password get an empty server response.
				empty := []byte{}
				identityResponse = &empty
			}
		default:
			return reject(RejectPermanent, RejectSourceUser, RejectNoReason, "user identity not accepted for "+string(id.Primary))
		}
	}

	ac := &AssociateAC{
		ProtocolVersion: 1, CalledAE: rq.CalledAE, CallingAE: rq.CallingAE,
		ApplicationContext: ApplicationContext,
		User: UserInfo{
			MaxLength:              p.MaxPDU,
			ImplementationClassUID: dcm.MolarImplementationClassUID,
			ImplementationVersion:  dcm.MolarImplementationVersion,
			IdentityResponse:       identityResponse,
		},
	}
	if rq.User.AsyncOps {
		// One operation at a time each way: PS3.7 D.3.3.3's default.
		ac.User.AsyncOps, ac.User.OpsInvoked, ac.User.OpsPerfmd = true, 1, 1
	}
	roles := map[string]RoleSelection{}
	for _, r := range rq.User.Roles {
		roles[r.SOPClassUID] = r
	}
	refusedUnknown := 0
	for _, pc := range rq.Contexts {
		svc := p.service(pc.AbstractSyntax)
		res := ContextAC{ID: pc.ID}
		switch {
		case svc == svcNone:
			res.Result = ResultAbstractSyntaxNotSupported
		case svc.isQuery() && !n.known && !p.OpenQuery:
			res.Result = ResultUserRejection
			refusedUnknown++
		default:
			// On a context where only the requestor is SCP (C-GET), we
			// are the sender: an uncompressed syntax lets every film go.
			r, hasRole := roles[pc.AbstractSyntax]
			weSend := svc == svcStorage && hasRole && r.SCP && !r.SCU
			ts := p.chooseTransferSyntax(svc, pc.TransferSyntaxes, weSend)
			if ts == "" {
				res.Result = ResultTransferSyntaxNotSupported
				break
			}
			res.Result, res.TransferSyntax = ResultAcceptance, ts
			tsInfo, _ := dcm.LookupTransferSyntax(ts)
			c := &Context{ID: pc.ID, AbstractSyntax: pc.AbstractSyntax, TransferSyntax: tsInfo, SCU: true}
			if r, ok := roles[pc.AbstractSyntax]; ok {
				// The requestor may be the SCP of a storage class only
				// (C-GET sub-operations); everything else we serve.
				c.SCU, c.SCP = r.SCU, r.SCP && svc == svcStorage
			}
			n.contexts = append(n.contexts, c)
		}
		ac.Contexts = append(ac.Contexts, res)
	}
	for _, r := range rq.User.Roles {
		if p.service(r.SOPClassUID) == svcNone {
			continue
		}
		ac.User.Roles = append(ac.User.Roles, RoleSelection{SOPClassUID: r.SOPClassUID, SCU: r.SCU,
			SCP: r.SCP && p.service(r.SOPClassUID) == svcStorage})
	}
	if len(n.contexts) == 0 && refusedUnknown > 0 {
		return reject(RejectPermanent, RejectSourceUser, RejectCallingAE, "calling AE title "+rq.CallingAE+" is not a known peer and asked only for query/retrieve")
	}
	n.ac = ac
	return n
}

func (p *Policy) checkPassword(user string, password []byte) bool {
	want, ok := p.Users[user]
	// Compare even for an unknown user, so timing does not tell users apart.
	eq := subtle.ConstantTimeCompare([]byte(want), password) == 1
	return ok && eq
}

func (p *Policy) knownPeer(ctx context.Context, aet string, remote net.Addr) bool {
	peer, ok := p.Peer(aet)
	if !ok {
		return false
	}
	if !p.CheckPeerHost || peer.Host == "" {
		return true
	}
	host, _, err := net.SplitHostPort(remote.String())
	if err != nil {
		return false
	}
	if host == peer.Host {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, peer.Host)
	return err == nil && slices.Contains(addrs, host)
}

func (p *Policy) service(as string) service {
	if svc, ok := queryServices[as]; ok {
		return svc
	}
	if slices.Contains(p.StorageSOPClasses, as) {
		return svcStorage
	}
	return svcNone
}

// chooseTransferSyntax picks one of the proposed transfer syntaxes. When
// the sender's first acceptable proposal is compressed, storage takes it,
// so films arrive and are kept as the device encoded them; otherwise the
// best uncompressed syntax offered wins. Only storage may be compressed.
func (p *Policy) chooseTransferSyntax(svc service, proposed []string, weSend bool) string {
	ok := func(ts string) bool {
		if !slices.Contains(p.TransferSyntaxes, ts) {
			return false
		}
		if _, known := dcm.LookupTransferSyntax(ts); !known {
			return false
		}
		return svc == svcStorage || uncompressed(ts)
	}
	var first string
	for _, ts := range proposed {
		if ok(ts) {
			first = ts
			break
		}
	}
	if first == "" || (!uncompressed(first) && !weSend) {
		// A compressed syntax first: the device's own encoding, kept.
		return first
	}
	// Among uncompressed syntaxes prefer explicit VR little endian, as
	// DCMTK's storescp does: no dictionary guesses, no byte swapping when
	// frames are served.
	for _, ts := range []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian, dcm.DeflatedExplicitVRLittleEndian, dcm.ExplicitVRBigEndian} {
		if slices.Contains(proposed, ts) && ok(ts) {
			return ts
		}
	}
	return first
}
