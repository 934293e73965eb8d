package dimse

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// testPKI is a throw-away CA with a server certificate for 127.0.0.1 and
// a client certificate, written as PEM files.
type testPKI struct {
	dir                          string
	caPEM, serverCert, serverKey string
	clientCert, clientKey        string
	pool                         *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Molar test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	p.caPEM = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+".key", "PRIVATE KEY", kb)
	}
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTLS: DICOM over TLS with and without a client certificate, from
// DCMTK and from our own SCU; plain TCP to the TLS port gets nowhere.
func TestTLS(t *testing.T) {
	echoscu := needTool(t, "echoscu")
	pki := newTestPKI(t)
	cert, err := tls.LoadX509KeyPair(pki.serverCert, pki.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &syncBuffer{}
	srv := &Server{Policy: DefaultPolicy("MOLAR"), Archive: st, ARTIMTimeout: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pki.pool,
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, tls.NewListener(ln, tc))
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	for _, tt := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"anonymous client", []string{"+tla", "+cf", pki.caPEM}, true},
		{"client certificate", []string{"+tls", pki.clientKey, pki.clientCert, "+cf", pki.caPEM}, true},
		{"plain TCP", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-aec", "MOLAR", "-to", "5", "-ta", "5"}, tt.args...)
			out, err := exec.Command(echoscu, append(args, "127.0.0.1", port)...).CombinedOutput()
			if (err == nil) != tt.ok {
				t.Fatalf("echoscu %v: err=%v, want ok=%v\n%s", tt.args, err, tt.ok, out)
			}
		})
	}

	d := Dialer{CallingAE: "TLSSCU", TLS: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second}
	a, err := d.Associate(ctx, ln.Addr().String(), "MOLAR", []Proposal{{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}
