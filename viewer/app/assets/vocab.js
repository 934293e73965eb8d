// Words for the codes the server uses, in one place for every page:
// statuses (referral/model.go), procedures, anaesthesia and
// anticoagulants (referral/validate.go), tiers, priorities and reason
// codes (referral/workflow.go). TestVocabularyMatchesServer holds the codes,
// and the labels the server also has, to the Go.

export const STATUS = {
  DRAFT: "Draft", SUBMITTED: "Received", AWAITING_TRIAGE: "Waiting for clinical triage",
  INFO_REQUESTED: "More information asked of the referrer", ACCEPTED: "Accepted",
  RETURNED_TO_REFERRER: "Returned to the referring dentist", REDIRECTED: "Redirected",
  SENT_TO_PROVIDER: "Sent to the treating service", PROVIDER_ACCEPTED: "Accepted by the treating service",
  CONTACTED: "Patient contacted", BOOKED: "Appointment booked", TREATED: "Treated", DISCHARGED: "Discharged",
  DNA: "Did not attend", NO_CONTACT: "Could not contact the patient", CANCELLED: "Cancelled",
};

export const PROCEDURES = {
  "retained-roots": "Removal of retained roots", "third-molars": "Removal of third molars (wisdom teeth)",
  "other-extraction": "Other extraction", "orthodontic-exposure": "Exposure or removal of teeth for orthodontics",
  "soft-tissue": "Soft tissue surgery or biopsy", apicectomy: "Apicectomy", pathology: "Cysts and other pathology",
  other: "Other oral surgery",
};

export const ANAESTHESIA = {
  la: "Local anaesthesia", "iv-sedation": "Intravenous (IV) sedation", "inhalation-sedation": "Inhalation sedation (gas and air)",
  ga: "General anaesthesia",
};

export const ANTICOAGULANTS = {
  none: "None", warfarin: "Warfarin", doac: "A DOAC (for example apixaban or rivaroxaban)",
  antiplatelet: "An antiplatelet (for example clopidogrel)", other: "Another anticoagulant",
};

export const TIERS = [
  ["L1", "Level 1", "within a general dental practitioner's competence"],
  ["L2", "Level 2", "enhanced skills, in a practice or community clinic"],
  ["L3a", "Level 3a", "specialist"],
  ["L3b", "Level 3b", "consultant-led, usually in hospital"],
];
export const tierLabel = (t) => (TIERS.find((x) => x[0] === t) || [t, t])[1];

export const PRIORITIES = [
  ["routine", "Routine"], ["soon", "Soon"], ["urgent", "Urgent"], ["two-week-wait", "Two-week wait (suspected cancer)"],
];
export const priorityLabel = (p) => (PRIORITIES.find((x) => x[0] === p) || [p, p])[1];

// Reason codes of referral/workflow.go, in its order, with their words.
export const REASONS = {
  return: [
    ["radiograph-missing", "No radiograph sent"], ["radiograph-non-diagnostic", "Radiograph not diagnostic"],
    ["radiograph-wrong-view", "Wrong radiograph view"], ["treat-in-practice", "Can be treated in the practice"],
    ["insufficient-information", "Not enough information"], ["outside-criteria", "Outside the referral criteria"],
    ["duplicate", "Duplicate referral"], ["other", "Another reason"],
  ],
  info: [
    ["radiograph-missing", "Radiograph missing"], ["radiograph-non-diagnostic", "Radiograph not diagnostic"],
    ["radiograph-wrong-view", "Wrong radiograph view"], ["medical-history", "Medical history"],
    ["clinical-detail", "More clinical detail"], ["other", "Something else"],
  ],
  redirect: [["another-provider", "To another service in Molar"], ["secondary-care", "To secondary care, outside Molar"]],
  cancel: [
    ["patient-request", "The patient asked"], ["referred-in-error", "Referred in error"], ["duplicate", "Duplicate referral"],
    ["treated-elsewhere", "Treated elsewhere"], ["patient-died", "The patient has died"], ["other", "Another reason"],
  ],
  discharge: [
    ["treated", "Treatment complete"], ["dna", "Did not attend"], ["no-contact", "Could not be contacted"],
    ["patient-request", "The patient asked"], ["other", "Another reason"],
  ],
  cancelAppointment: [["patient-request", "The patient asked"], ["provider-request", "The service had to cancel"], ["other", "Another reason"]],
};
const allReasons = Object.fromEntries(Object.values(REASONS).flat());
export const reasonLabel = (code) => allReasons[code] || code || "";
