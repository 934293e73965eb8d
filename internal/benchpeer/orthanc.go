package benchpeer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Where Debian's orthanc and orthanc-dicomweb packages put their files.
const (
	orthancSbin = "/usr/sbin/Orthanc"
	// DICOMwebPlugin is Orthanc's DICOMweb plugin.
	DICOMwebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
)

// OrthancOptions are what a benchmark sets of Orthanc's configuration; see
// StartOrthanc for the rest.
type OrthancOptions struct {
	// Name is the configuration's Name, which Orthanc shows in its logs
	// and /system; "" is molar-bench.
	Name string
	// AET, if not "", runs its DICOM server with that AE title on a free
	// port; "" runs none.
	AET string
	// Modalities are known DICOM nodes (AE title → port on 127.0.0.1),
	// which may retrieve and are C-MOVE destinations. Only with AET.
	Modalities map[string]int
	// DICOMweb loads the DICOMweb plugin, at /dicom-web/.
	DICOMweb bool
	// User and Password, if User is not "", turn HTTP authentication on
	// with that one registered user; Orthanc.Auth then carries them.
	User, Password string
	// Env is its environment; nil is ChildEnv().
	Env []string
}

// Orthanc is a running Orthanc.
type Orthanc struct {
	Peer
	// URL is its HTTP server's, http://127.0.0.1:PORT, without a final
	// slash.
	URL string
	// DICOMPort is its DICOM server's port, 0 without one.
	DICOMPort int
	// Auth is the Authorization header its HTTP server wants, "" for
	// none.
	Auth string
}

// StartOrthanc runs Orthanc with a configuration of its own in dir
// (orthanc.json; its log is orthanc.log): storage and SQLite index in dir,
// HTTP on a free port, and as opts say a DICOM server on another, the
// DICOMweb plugin and a registered user. It returns once the process has
// started: what to wait for (C-ECHO, /system, the plugin) is the
// caller's. Not starting fails tb.
//
// What matters for speed is left at Orthanc's defaults, as an installation
// has it: SyncStorageArea true (each file is fsynced before the response,
// as Molar does; written out below), StorageCompression false,
// StoreMD5ForAttachments true, the SQLite index, no ingest transcoding.
// For DICOM: DicomThreadsCount 4, MaximumPduLength 16384 (what it offers
// senders, as DCMTK's storescp does; Molar offers 1 MiB), SynchronousCMove
// true (the C-MOVE response comes after the last sub-operation, so timing
// movescu times the whole transfer), DicomAssociationCloseDelay 5 s (the
// association to a C-MOVE destination is kept for the next move). For
// HTTP: HttpThreadsCount 50, KeepAlive and TcpNoDelay true.
//
// Those defaults make Orthanc less durable than Molar, and so cheaper per
// instance; the figures compare the products as shipped. SyncStorageArea
// (true since 1.7.4) has it fdatasync each DICOM file before answering,
// but not the file's directory, and its SQLite index runs with
// JOURNAL_MODE=WAL and SYNCHRONOUS=NORMAL (the pragmas in the binary), so
// an index commit is synced only at a WAL checkpoint: strace shows one
// fdatasync per stored instance and about one index sync per 17. After a
// power cut, instances Orthanc acknowledged can be missing from its index.
// Molar syncs the blob, its directory and its index (and the audit log)
// before answering.
//
// The rest only keeps it to itself: no plugin unless DICOMweb is asked for
// (Debian's default configuration loads the whole plugin folder), no DICOM
// server unless AET is set (its default port would collide with other
// Orthancs), no explorer or WebDAV, jobs not saved. Orthanc cannot be told
// to listen on loopback only: its DICOM port listens on every interface
// (as storescp's does), and RemoteAccessAllowed false makes its HTTP
// server refuse anything but localhost. Without User,
// AuthenticationEnabled is false: dimsebench reads /statistics to check
// every instance arrived. Like every DCMTK-based child, dimsebench runs it
// with TCP_NODELAY=1 (see DCMTKEnv).
func StartOrthanc(tb testing.TB, dir string, opts OrthancOptions) *Orthanc {
	tb.Helper()
	bin, err := lookOrthanc(opts.DICOMweb)
	if err != nil {
		tb.Fatal(err)
	}
	o := &Orthanc{}
	if opts.AET != "" {
		o.DICOMPort = FreePort(tb)
	}
	httpPort := FreePort(tb)
	o.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if opts.User != "" {
		o.Auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(opts.User+":"+opts.Password))
	}
	b, err := json.MarshalIndent(orthancConfig(dir, httpPort, o.DICOMPort, opts), "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	o.Name = "orthanc"
	o.Proc = Start(tb, "Orthanc", filepath.Join(dir, "orthanc.log"), opts.Env, bin, cfgPath)
	o.Stored = func() (int, error) {
		body, err := HTTPGet(o.URL+"/statistics", o.Auth)
		if err != nil {
			return 0, err
		}
		var st struct{ CountInstances int }
		if err := json.Unmarshal(body, &st); err != nil {
			return 0, fmt.Errorf("/statistics: %v", err)
		}
		return st.CountInstances, nil
	}
	return o
}

// orthancConfig is StartOrthanc's configuration; dicomPort is used only
// with opts.AET.
func orthancConfig(dir string, httpPort, dicomPort int, opts OrthancOptions) map[string]any {
	name := opts.Name
	if name == "" {
		name = "molar-bench"
	}
	plugins := []string{}
	if opts.DICOMweb {
		plugins = append(plugins, DICOMwebPlugin)
	}
	cfg := map[string]any{
		"Name":                   name,
		"StorageDirectory":       filepath.Join(dir, "storage"),
		"IndexDirectory":         filepath.Join(dir, "index"),
		"StorageCompression":     false,
		"SyncStorageArea":        true, // the default, said aloud
		"Plugins":                plugins,
		"HttpServerEnabled":      true,
		"HttpPort":               httpPort,
		"RemoteAccessAllowed":    false,
		"AuthenticationEnabled":  opts.User != "",
		"OrthancExplorerEnabled": false,
		"WebDavEnabled":          false,
		"DicomServerEnabled":     opts.AET != "",
		// A finished job's record is not kept on disk between restarts:
		// every run starts fresh anyway.
		"SaveJobs": false,
	}
	if opts.DICOMweb {
		cfg["DicomWeb"] = map[string]any{"Enable": true, "Root": "/dicom-web/"}
	}
	if opts.User != "" {
		cfg["RegisteredUsers"] = map[string]string{opts.User: opts.Password}
	}
	if opts.AET != "" {
		mods := map[string][]any{}
		for aet, port := range opts.Modalities {
			mods[aet] = []any{aet, "127.0.0.1", port}
		}
		cfg["DicomAet"] = opts.AET
		cfg["DicomPort"] = dicomPort
		// Any called AE title; any calling one for C-ECHO and C-STORE
		// (a practice's devices), declared modalities only for C-MOVE,
		// as Molar's defaults have it.
		cfg["DicomCheckCalledAet"] = false
		cfg["DicomAlwaysAllowEcho"] = true
		cfg["DicomAlwaysAllowStore"] = true
		cfg["DicomAlwaysAllowMove"] = false
		cfg["DicomCheckModalityHost"] = false
		cfg["DicomModalities"] = mods
	}
	return cfg
}

// lookOrthanc returns the path of Orthanc, or an error that says which
// Debian packages to install (with dicomWeb, its DICOMweb plugin's too).
func lookOrthanc(dicomWeb bool) (string, error) {
	if p, err := exec.LookPath("Orthanc"); err == nil {
		return p, nil
	}
	// The Debian package puts it in /usr/sbin, which is not in every PATH.
	if _, err := os.Stat(orthancSbin); err == nil {
		return orthancSbin, nil
	}
	install := "the Debian package orthanc (apt-get install -y orthanc)"
	if dicomWeb {
		install = "the Debian packages orthanc and orthanc-dicomweb (apt-get install -y orthanc orthanc-dicomweb)"
	}
	return "", errors.New("Orthanc not found (in PATH or /usr/sbin): install " + install +
		"; the benchmark runs an Orthanc of its own on free ports, the system service need not run")
}

// RequireOrthanc fails tb at once, rather than in the middle of a
// benchmark or after building molar, when Orthanc (and, with dicomWeb, its
// DICOMweb plugin) is not installed.
func RequireOrthanc(tb testing.TB, dicomWeb bool) {
	tb.Helper()
	if _, err := lookOrthanc(dicomWeb); err != nil {
		tb.Fatal(err)
	}
	if !dicomWeb {
		return
	}
	if _, err := os.Stat(DICOMwebPlugin); err != nil {
		tb.Fatalf("Orthanc's DICOMweb plugin: %v: install the Debian package orthanc-dicomweb (apt-get install -y orthanc-dicomweb)", err)
	}
}
