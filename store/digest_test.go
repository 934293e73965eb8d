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

// sameBytes compares a stored blob (a file, inline in the index, or inline
// in the group being committed) with a new instance's bytes (in a file or
// in memory).
func TestSameBytes(t *testing.T) {
	s := openTestStore(t, Options{Dir: t.TempDir()})
	big := bytes.Repeat([]byte{7}, 600<<10) // several comparison chunks
	flipped := bytes.Clone(big)
	flipped[len(flipped)-1] = 8
	short := big[:len(big)-1]
	put := func(data []byte) uint64 {
		id, err := s.lease.alloc()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.lease.release(id) })
		if err := s.writeBlobFile(id, data); err != nil {
			t.Fatal(err)
		}
		return id
	}
	inFile := func(data []byte) *pendingInstance {
		return &pendingInstance{rec: instanceRec{BlobID: put(data)}}
	}
	inMemory := func(data []byte) *pendingInstance { return &pendingInstance{inline: data} }
	stored := put(big)
	const groupID = 1 << 40
	group := map[uint64][]byte{groupID: big}
	for _, tc := range []struct {
		name   string
		stored uint64
		p      *pendingInstance
		want   bool
	}{
		{"file, same file", stored, inFile(bytes.Clone(big)), true},
		{"file, other file", stored, inFile(flipped), false},
		{"file, shorter file", stored, inFile(short), false},
		{"file, same in memory", stored, inMemory(bytes.Clone(big)), true},
		{"file, other in memory", stored, inMemory(flipped), false},
		{"this group's, same", groupID, inMemory(bytes.Clone(big)), true},
		{"this group's, other", groupID, inFile(flipped), false},
	} {
		if got, err := s.sameBytes(tc.stored, tc.p, group); err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := s.sameBytes(1<<50, inMemory(big), nil); err == nil {
		t.Error("comparing with a missing blob: no error")
	}
}
