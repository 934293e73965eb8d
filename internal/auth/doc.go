// Package auth decides who someone is and what they may do in Molar.
//
// It owns:
//
//   - organisations, identified by their ODS codes, with the format checks
//     for dental practices, provider organisations (and their sites) and
//     commissioners (and their locations);
//   - accounts: email, argon2id password hash, registered phone numbers and
//     role grants (role + organisation [+ the clinician a B1115 acts for]),
//     after the NHS e-Referral Service business functions;
//   - sign-in with a second factor: password, then a one-time code sent by
//     SMS or voice through a notify.Notifier to a phone the user chooses,
//     with rate limits and lockout; and password reset through the same
//     second factor;
//   - sessions (cookies holding a random 256-bit ID that is stored only as a
//     hash), their idle and absolute expiry, and CSRF tokens;
//   - API keys (practice software) and bearer tokens (DICOMweb clients),
//     shown once and stored hashed, and the bootstrap token (--api-token);
//   - the permission matrix, role × action, in one place (matrix.go), and
//     the middleware that enforces it: Service.Require for HTTP handlers and
//     Service.Check for packages with their own guard interface (DICOMweb).
//
// It must not touch clinical data: it knows no referral, patient, NHS
// number or film, imports no protocol package (dicomweb, dimse) and no
// domain package (referral, store), and never writes the audit log —
// callers record accesses with the Principal it gives them. Organisation
// scoping of data (a referrer sees only their own practice's referrals) is
// the owning package's job, with Principal.Org; this package decides only
// whether a role may perform an action at all.
//
// # The permission matrix
//
// Actions are nouns and verbs (referral.view, film.upload, …), each marked
// clinical when it touches patient-identifiable data or films. Roles are the
// e-RS business functions. Non-clinical roles — referrer admin (e-RS
// "referring admin"), service provider admin (B1120), service definer
// (B1107), information analyst (B1130), booking manager (B1140) and the
// system administrator — are never allowed a clinical action: Decide
// enforces that rule on top of the table, so a wrong edit to the table
// cannot hand out clinical access (and the tests fail on such an edit).
// The one exception is written next to the table: a system administrator
// may read the audit log (audit.read), which holds patient identifiers but
// no clinical content, because someone has to be able to answer "who looked
// at this patient's films"; and the bootstrap token, see below.
//
// referral.book is deliberately not clinical: as in e-RS, booking works on
// the referral's reference (URN), service and dates, and the package that
// serves it must return nothing else to the booking roles.
//
// # Credentials
//
// A request is authenticated by the first of these it carries:
// "Authorization: Bearer <token>" (the bootstrap token, a bearer token or
// an API key), "X-API-Key: <key>", or the session cookie. Only cookie
// sessions need a CSRF token on state-changing methods (POST, PUT, PATCH,
// DELETE), in the X-CSRF-Token header or, for URL-encoded forms, the
// csrf_token field; header credentials are not sent by browsers on their
// own, so they cannot be forged cross-site. Multipart bodies are not read
// by the middleware (film uploads stream), so they need the header.
//
// The bootstrap token (Config.BootstrapToken, from --api-token) is a
// system administrator's credential. DESIGN.md promises it "full rights",
// and scripts use it for DICOMweb; Config.BootstrapFullAccess keeps that
// promise by letting it also perform clinical actions. Without that flag it
// is exactly a system administrator, with no clinical access.
//
// # Sign-in
//
// Passwords are hashed with argon2id (Argon2Params; default 64 MiB, 2
// passes, 2 lanes, above OWASP's minimum of 19 MiB, 2 passes, 1 lane),
// stored in the PHC string format so parameters can be raised later and old
// hashes upgraded at the next sign-in. An unknown email address is checked
// against a dummy hash with the same parameters, so it costs the same time
// as a wrong password, and gets the same answer.
//
// After the password, the user picks one of their registered phones and
// SMS or voice; a 6-digit code (uniform, from crypto/rand) is sent with
// notify.LoginCodeText. It is valid for Config.CodeTTL (10 minutes), once,
// for Config.MaxCodeAttempts tries. Only an HMAC of it is stored, keyed by
// the sign-in's own secret, which only the browser holds: a copy of the
// database does not reveal codes. Codes sent per account per hour are
// limited. Failed passwords and failed codes count together against the
// email address (known or not, so lockout does not reveal who has an
// account); Config.MaxFailures of them within Config.FailureWindow pause
// sign-in and reset for that address for Config.LockoutDuration, and the
// message says until when.
//
// Password reset asks for the email address and the full registered phone
// number, and always answers "if these match an account, we have sent a
// code", so it does not reveal accounts either.
//
// # Storage
//
// One Pebble database of its own (Config.Dir), opened as the archive index
// is and written with pebble.Sync. Keys are a table byte and an ID or a
// SHA-256; values are a format version byte (1) followed by JSON, and a
// newer format is refused rather than misread. Session IDs, sign-in
// secrets, API keys and bearer tokens are stored only as SHA-256 hashes:
// they are 256-bit random values, so a fast hash is enough.
//
//	'm' name              metadata: the format version
//	'o' ODS code          organisation
//	'u' user ID           account (with its password hash)
//	'e' email             → user ID
//	's' sha256(session)   session
//	'x' user ID 0 hash    the user's sessions, to end them all
//	'p' sha256(secret)    sign-in or reset in progress
//	't' sha256(email)     failures, lockout and code sends for an address
//	'c' credential ID     API key or bearer token (never the secret)
//	'h' sha256(secret)    → credential ID, while not revoked
package auth
