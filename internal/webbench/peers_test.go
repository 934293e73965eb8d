package webbench

import (
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/benchpeer"
)

// requestTimeout bounds one STOW-RS request: generous, but a hung peer
// must fail the benchmark rather than hang it (scripts/bench.sh runs go
// test with -timeout 0). benchpeer.StartTimeout bounds a peer's start.
const requestTimeout = 5 * time.Minute

// Credentials. Both peers require them, as a practice's would: Molar its
// bearer API token, Orthanc HTTP Basic authentication.
const (
	molarToken      = "webbench-token"
	orthancUser     = "webbench"
	orthancPassword = "webbench-password"
)

// peer is a DICOMweb server under test.
type peer struct {
	benchpeer.Peer
	// root is the URL of its DICOMweb service, without a final slash.
	root string
	// auth is the Authorization header every request carries.
	auth string
}

// startMolar runs `molar serve` (benchpeer.StartMolar) as a practice runs
// it: the bootstrap API token, defaults for the rest.
func startMolar(tb testing.TB, dir string) *peer {
	tb.Helper()
	m, err := benchpeer.StartMolar(tb, dir, benchpeer.MolarOptions{APIToken: molarToken})
	if err != nil {
		tb.Fatal(err)
	}
	return &peer{Peer: m.Peer, root: m.URL + "/dicom-web", auth: "Bearer " + molarToken}
}

// startOrthanc runs Orthanc (benchpeer.StartOrthanc) with its DICOMweb
// plugin, no DICOM server and HTTP Basic authentication, and waits until
// it serves STOW-RS.
func startOrthanc(tb testing.TB, dir string) *peer {
	tb.Helper()
	o := benchpeer.StartOrthanc(tb, dir, benchpeer.OrthancOptions{
		Name:     "molar-webbench",
		DICOMweb: true,
		User:     orthancUser,
		Password: orthancPassword,
	})
	p := &peer{Peer: o.Peer, root: o.URL + "/dicom-web", auth: o.Auth}
	if err := benchpeer.WaitHTTP(p.Proc, o.URL+"/system", o.Auth, benchpeer.StartTimeout); err != nil {
		tb.Fatal(err)
	}
	// /system answers without the plugin too: make sure STOW-RS is
	// there, or every STOW would be a 404 rather than a measurement.
	if _, err := benchpeer.HTTPGet(p.root+"/studies?limit=1", o.Auth); err != nil {
		tb.Fatalf("Orthanc serves no DICOMweb (plugin %s, from the Debian package orthanc-dicomweb): %v\n%s",
			benchpeer.DICOMwebPlugin, err, p.Proc.LogTail())
	}
	return p
}
