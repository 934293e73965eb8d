// Package demographics finds patients' demographic details: an NHS number
// trace, as the referral form and the triage screen need it.
//
// It owns the Person and Query types, the errors every source returns, and
// two sources with the same two methods:
//
//		Lookup(ctx, nhsNumber) (Person, error)   details for one NHS number
//		Search(ctx, Query) ([]Person, error)     find patients by name and birth date
//
//	  - Table: a local table loaded from a CSV file, for sites without
//	    Personal Demographics Service (PDS) access, for tests and for demos;
//	  - PDSClient: a client for NHS England's Personal Demographics Service
//	    FHIR R4 API.
//
// Callers (the referral package) declare the interface they need
// themselves; both sources satisfy it.
//
// # Results and errors
//
// Search returns at least one Person or an error: ErrNotFound (no match),
// ErrTooManyMatches (PDS's TOO_MANY_MATCHES: the query must be narrowed;
// the Table says so beyond 50 matches), ErrInvalidQuery (a query PDS would
// refuse: family name and birth date are required, the birth date is
// YYYY-MM-DD, gender is male, female, other or unknown). A trace wants
// exactly one match; what to do with several is the caller's decision, and
// results come best match first. Lookup returns ErrNotFound or, for a
// malformed NHS number, ErrInvalidQuery (also matching the
// internal/nhsnumber sentinel). PDS failures that a later retry may cure
// (HTTP 408, 429, 5xx, no answer) are a *RetryableError; other PDS error
// answers are a *PDSError (status, Spine error code, diagnostics, request
// ID), which matches the sentinel it means. PDS answers a retrieval with
// 404 RESOURCE_NOT_FOUND or INVALIDATED_RESOURCE, or 400
// INVALID_RESOURCE_ID for a number it does not accept: all three are
// ErrNotFound, since the number passed our Modulus 11 check. A cancelled
// or expired context gives the context's error. Error texts never hold the
// NHS number, a name or the token; a few quote the malformed value they
// refuse (a date, a gender), and PDS's diagnostics, kept in a PDSError's
// text, may quote a query value.
//
// Restricted patients (PDS security label R or V, Person.Restricted) come
// back without address, postcode, phone or GP practice, from either source:
// where they live must not be shown or stored. As PDS does, a search that
// names a postcode never matches a restricted patient.
//
// # The CSV table
//
// UTF-8 (a byte-order mark is ignored), comma-separated, RFC 4180 quoting,
// lines starting with '#' are comments. The first row names the columns, in
// any order:
//
//	nhs_number   required; 10 digits, spaces and hyphens allowed; the check
//	             digit must be valid; each number once
//	family       required; the family name (surname)
//	given        given names separated by spaces ("Jane Anne")
//	birth_date   required; YYYY-MM-DD
//	gender       male, female, other or unknown (FHIR administrative gender);
//	             empty if not recorded
//	postcode     "LS1 6AE"
//	address      address lines separated by '|': "1 Trevelyan Square|Boar Lane|Leeds"
//	phone        the number to text, as recorded
//	gp_practice  the ODS code of the registered GP practice
//	restricted   optional: true/false, yes/no, 1/0, or empty (false)
//	deceased     optional: the same
//
// Unknown column names are an error (they are usually typos), as is a row
// with a different number of fields. Errors name the line. For example:
//
//	nhs_number,family,given,birth_date,gender,postcode,address,phone,gp_practice
//	999 234 5675,Smith,Jane Anne,1980-02-29,female,LS1 6AE,"Flat 2, 1 Trevelyan Square|Leeds",07700 900123,B82005
//
// Matching in the Table ignores case, accents, spaces, hyphens,
// apostrophes and full stops in names and postcodes, compares the birth date
// exactly, and accepts '*' as a wildcard after at least two characters
// ("Sm*", "LS*"), as PDS does. A given name in the query matches any of the
// person's given names, or all of them written together.
//
// # The PDS client
//
// GET {base}/Patient/{nhs number} and GET {base}/Patient?family=…&given=…
// &birthdate=eq…&gender=…&address-postalcode=… with the headers PDS asks
// for: Authorization (a bearer token from the caller's token function, asked
// for on every request), X-Request-ID (a new UUID v4 per request, or the one
// set with WithRequestID, which a retry of a failed request should reuse),
// X-Correlation-ID (WithCorrelationID, else the request ID), NHSD-Session-URID
// when a role is configured (healthcare-worker access), and Accept:
// application/fhir+json. The base is the FHIR R4 root, e.g.
// https://int.api.service.nhs.uk/personal-demographics/FHIR/R4.
//
// The client logs only at debug level, and never the token, the NHS number,
// the query or anything from the response: operation, status, request ID and
// duration.
//
// The package must not touch storage, HTTP routing or access decisions:
// who may trace a patient is decided by the caller.
package demographics
