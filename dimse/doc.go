// Package dimse is Molar's DICOM network layer: the PS3.8 upper layer
// (PDUs, associations and their state machine) and the PS3.7 message
// exchange on top of it, with the SCP services the archive offers
// (Verification, Storage, Query/Retrieve FIND/MOVE/GET, Modality Worklist)
// and the SCU that C-MOVE sub-operations, forwarding and the admin CLI use.
//
// It talks to the archive only through the small interfaces declared in
// this package (Archive, Worklist) and must not import dicomweb, viewer or
// anything HTTP. Acceptance is by policy: which SOP classes, transfer
// syntaxes and peers are allowed is decided here, from configuration.
package dimse
