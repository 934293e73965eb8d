// Package referral is the referral domain: the Directory of Services,
// referrals from draft to discharge and the state machine between, triage
// decisions, provider worklists and booking, the films filed against each
// referral, the patient's SMS and the public tracker, and the reports
// information analysts read. Its JSON API (api/openapi.yaml) is what the
// browser application and practice software use.
//
// It owns its own Pebble index (referrals, events, worklist indexes,
// services, slots, unmatched films, the change-feed cursor). It reads the
// archive only through the small interfaces below (the change feed and
// study attributes, to file films) and never writes an instance except
// through the Ingester it is given (wrapped uploads).
//
// It must not speak DICOM or DICOMweb itself, decide roles (it asks the
// Guard, which applies internal/auth's matrix, and scopes data by the
// caller's organisation), or send messages except through the Notifier.
package referral
