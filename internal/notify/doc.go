// Package notify sends text (SMS) and voice messages to people's phones:
// sign-in codes and a referral's URN texted to the patient.
//
// It owns:
//
//   - the Notifier interface (one message: a UK phone number, a channel,
//     the text and a caller's reference) and UK phone number validation;
//   - the Outbox, the default Notifier, which appends every message to a
//     local JSON-lines file so that a local run and the tests work end to end
//     without a provider, and an admin page listing it;
//   - the GOV.UK Notify client (SMS only: Notify has no voice channel, so a
//     Router sends voice elsewhere, by default to the Outbox);
//   - delivery tracking: Notify's delivery callbacks, status polling, and
//     bounded retries of the failures Notify says a retry can fix;
//   - the only message texts the product sends, LoginCodeText,
//     ReferralURNText and ReferralUpdateText, which by design carry no clinical content.
//
// It must not touch clinical data, HTTP routing, or authentication and
// authorisation decisions: its handlers assume the caller has already
// decided who may reach them (the callback handler checks only Notify's
// bearer token). It imports no other Molar package.
package notify
