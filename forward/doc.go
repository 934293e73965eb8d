// Package forward sends a referral's films to a provider's DICOM node: when
// a provider whose Directory of Services entry names a DICOM node accepts a
// referral, the caller enqueues a Job (the studies, the node, the referral
// URN as Reference), and the Queue delivers it by C-STORE, retrying until
// the node has every instance or the job is too old.
//
// It owns:
//
//   - the durable queue: jobs and the outcome of every instance of every
//     job, in a Pebble database of its own, each change committed with
//     pebble.Sync before anything depends on it;
//   - the worker (Queue.Run): one association per attempt of a job (a
//     second one after it only if the instances need more than 128
//     presentation contexts), proposing exactly the SOP class / transfer
//     syntax pairs the job's instances need plus an uncompressed fall-back,
//     as C-MOVE sub-operations do, and Verification (so that a node taking
//     none of the storage contexts still associates, and its refusal is
//     recorded per instance instead of being retried as a failed
//     association); at most Config.Concurrency jobs at once and never two
//     associations for the same job at a time;
//   - the retry policy: which failures a retry can fix, exponential backoff
//     with jitter, and giving up after Config.MaxAge;
//   - the JSON admin API (Queue.Handler) hospital PACS administrators use
//     to see, retry and cancel jobs.
//
// It reaches the archive only through Source (the store's read API) and
// the network only through dimse's SCU; it must not write to the archive,
// import dicomweb, viewer or referral, nor decide who may use its handler.
//
// # Idempotency
//
// A job is identified for Enqueue by its Reference, its Node (AE title
// without leading or trailing spaces, host compared case-insensitively,
// port) and its set of studies (order and repetition do not matter). While
// a job with the same identity is pending (queued, sending or retry-wait),
// Enqueue returns that job's ID and changes nothing, so accepting the same
// referral twice does not send the films twice. The Reason is not part of
// the identity. Once the job has ended (done, failed or cancelled), the
// same Enqueue creates a new job: sending again after the end is a
// deliberate act, for example when the provider asks for the films again.
//
// # Delivery
//
// Each attempt lists the studies' instances in the archive (instances
// stored since the last attempt join the job), associates with the node and
// sends those not yet acknowledged. An instance is delivered when the node
// answers success or a warning (B000, B006, B007 …), or 0111 duplicate SOP
// instance (it has the instance already: after a crash, most likely from
// our own send whose answer was lost); each acknowledgement is
// recorded durably at once, so an attempt after a failure or a restart
// resends only what was not acknowledged. An instance the node refuses in a
// way no retry can change — a failure status of the A9xx or Cxxx families,
// 0122 SOP class not supported and the other PS3.7 C.4 errors, or no
// accepted presentation context that can carry it (dimse.ErrNoContext) — is
// recorded as failed with the status and the node's comment, and not sent
// again unless an administrator asks (Retry). Everything else — the node
// unreachable, the association rejected or aborted, A7xx out of resources,
// 0110 processing failure, unknown failure statuses — makes the attempt
// fail, and the job waits in retry-wait for the next one. After MaxAge
// (from creation, or from the administrator's last Retry) the last failed
// attempt makes the job failed. A job ends done when every instance was
// delivered, failed when any was not.
//
// A study with no instances in the archive fails the attempt (its films
// may still be arriving), so a job for an unknown study ends failed after
// MaxAge.
//
// Sending is at least once: an instance whose C-STORE was under way when
// the process died is sent again.
//
// # Admin API
//
// Handler serves, relative to where it is mounted (use http.StripPrefix):
//
//	GET  /jobs?state=retry-wait&state=failed&reference=URN&limit=N
//	GET  /jobs/{id}
//	POST /jobs/{id}/retry
//	POST /jobs/{id}/cancel
//
// A state parameter may also list states separated by commas. Answers are
// JSON: {"jobs": [JobStatus…]} for the list, newest first and without the
// instances; JobStatus with every instance's outcome for one job and as the
// answer of retry and cancel; {"error": "..."} with 400, 404, 409 (the
// job's state does not allow it) or 503 (closing). The handler does no authorisation and no CSRF check:
// it assumes cmd/molar wrapped it with the access check (provider admin or
// system administrator) and the session middleware. A job holds no patient
// data beyond the referral URN and the UIDs of the films; the Reason is an
// operational note (for example "accepted by provider RYJ10") shown to
// administrators and must not carry clinical text.
package forward
