package store

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/molar-pacs/molar/internal/synth"
)

// digestOf is data's digest by alg, as ingest computes it.
func digestOf(alg digestAlg, data []byte) digest {
	h := alg.newHash()
	h.Write(data)
	return alg.digest(h)
}

// The digests are the published algorithms: fsck of a store written by
// one build must agree with another's.
func TestDigestKnownAnswers(t *testing.T) {
	tests := []struct {
		alg  digestAlg
		data string
		want string
	}{
		// XXH3-128 of the empty input, seed 0 (the reference test vector).
		{digestXXH3, "", "99aa06d3014798d86001c324468d497f"},
		{digestSHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{digestSHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tc := range tests {
		d := digestOf(tc.alg, []byte(tc.data))
		if got := hex.EncodeToString(d.sum[:tc.alg.size()]); got != tc.want {
			t.Errorf("alg %d of %q: %s, want %s", tc.alg, tc.data, got, tc.want)
		}
	}
	// Streaming in pieces gives the one-shot answer past XXH3's internal
	// block size.
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	h := digestXXH3.newHash()
	for i := 0; i < len(data); i += 777 {
		h.Write(data[i:min(i+777, len(data))])
	}
	if digestXXH3.digest(h) != digestOf(digestXXH3, data) {
		t.Error("XXH3-128 in pieces differs from one write")
	}
}

// A resend counts as identical only when its bytes are, whatever the
// digests say: equal digests over different bytes (a forged XXH3
// collision) are a conflict, and a copy stored under an older digest
// algorithm (SHA-256, before XXH3) is compared byte for byte rather than
// refused.
func TestDuplicateDecidedByBytes(t *testing.T) {
	spec := synth.Spec{StudyUID: "1.2.826.0.12.1", SeriesUID: "1.2.826.0.12.1.1", SOPInstanceUID: "1.2.826.0.12.1.1.1", PatientID: "9434765919", Seed: 1}
	first := mustSynth(t, spec)
	other := spec
	other.Seed = 2
	different := mustSynth(t, other)
	if len(different) != len(first) || bytes.Equal(different, first) {
		t.Fatal("the test needs different bytes of the same length")
	}

	tests := []struct {
		name    string
		second  []byte
		digest  func(first, second digest) digest // the second copy's digest, as the committer sees it
		sameAs  bool                              // ingest's own comparison found the stored copy identical
		outcome Outcome                           // 0: refused as a conflict
	}{
		{"identical, compared before the commit", first, keep, true, AlreadyStored},
		{"identical, compared by the committer", first, keep, false, AlreadyStored},
		{"different bytes, forged equal digest", different, func(f, _ digest) digest { return f }, false, 0},
		{"identical, digests of two algorithms", first, sha256Digest, false, AlreadyStored},
		{"different, digests of two algorithms", different, sha256Digest, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t, Options{Dir: t.TempDir(), Duplicates: RejectDuplicates})
			mustIngest(t, s, first, Stored)
			req := prepareAdd(t, s, tc.second)
			defer s.lease.release(req.add.rec.BlobID)
			req.add.rec.Digest = tc.digest(digestOf(digestXXH3, first), req.add.rec.Digest)
			if tc.sameAs {
				req.add.sameAs = s.storedCopy(req.add)
				if req.add.sameAs == 0 {
					t.Fatal("ingest's comparison did not find the stored copy identical")
				}
			}
			s.applyGroup([]*commitReq{req})
			if tc.outcome == 0 {
				if rej, ok := IsReject(req.err); !ok || rej.Reason != ReasonConflict {
					t.Fatalf("got %v, %v; want a conflict", req.res, req.err)
				}
			} else if req.err != nil || req.res.Outcome != tc.outcome {
				t.Fatalf("got %+v, %v; want %v", req.res, req.err, tc.outcome)
			}
			if got := readBack(t, s, spec.SOPInstanceUID); !bytes.Equal(got, first) {
				t.Error("the stored copy changed")
			}
		})
	}
}

func keep(_, second digest) digest { return second }

// sha256Digest stands for a copy stored before XXH3: its digest cannot be
// compared with the other's.
func sha256Digest(_, _ digest) digest { return digest{alg: digestSHA256, sum: [32]byte{1}} }

func TestSameBytes(t *testing.T) {
	s := openTestStore(t, Options{Dir: t.TempDir()})
	big := bytes.Repeat([]byte{7}, 600<<10) // several comparison chunks
	flipped := bytes.Clone(big)
	flipped[len(flipped)-1] = 8
	put := func(data []byte) uint64 {
		id, err := s.lease.alloc()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.lease.release(id) })
		w, err := s.blobs.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b, c, d := put(big), put(bytes.Clone(big)), put(flipped), put(big[:len(big)-1])
	for _, tc := range []struct {
		x, y uint64
		want bool
	}{{a, b, true}, {a, c, false}, {a, d, false}, {a, a, true}} {
		if got, err := s.sameBytes(tc.x, tc.y); err != nil || got != tc.want {
			t.Errorf("sameBytes(%d, %d) = %v, %v; want %v", tc.x, tc.y, got, err, tc.want)
		}
	}
	if _, err := s.sameBytes(a, 1<<50); err == nil {
		t.Error("comparing with a missing blob: no error")
	}
}
