// Package match owns the attribute matching rules of DICOM PS3.4 C.2.2.2
// (universal, empty value, single value, list of UID, wildcard and range
// matching) that C-FIND and QIDO-RS share, plus QIDO-RS fuzzy person-name
// matching (PS3.18). Both query protocols compile their keys here so that a
// query means the same thing whichever way it arrives.
//
// It does not touch storage or protocols: it turns a query value into a
// Matcher that tests decoded record values, and tells an index which exact
// values, prefix or range it may look up. It imports internal/dcm for the VR
// type only.
//
// Semantics chosen where the standard leaves room:
//
//   - An empty value, or a value made only of '*', is universal and matches
//     absent attributes too. The value `""` matches only absent or empty
//     attributes.
//   - A backslash-separated value is a list for every multi-valued VR, not
//     only UI: it matches if any listed value matches any record value.
//     Empty list items are ignored. LT, ST, UT and UR are single-valued, so
//     a backslash there is data.
//   - '*' and '?' are wildcards for AE, CS, LO, LT, PN, SH, ST, UC, UR and UT
//     only; '?' is one Unicode character. There is no escape, so these VRs
//     cannot search for a literal '*' or '?'. In DA, DT, TM and UI any other
//     use of a wildcard is an error; in AS, AT they are literal characters.
//   - DS, IS and the binary numeric VRs compare numbers, so "1.0" matches
//     "1". A query that is not a number is an error; a record value that is
//     not a number matches nothing.
//   - DA, TM and DT compare by value after normalisation (see Range and
//     NormalizeTemporal). "-" alone is universal. A range whose start is after
//     its end is an error rather than a match over midnight. Record values
//     are points (a record time "1015" is 10:15:00.000000); query values are
//     intervals of their precision. DT UTC offsets are accepted and ignored:
//     times are compared as written. Combined DA+TM range matching
//     (C.2.2.2.5.1) is not done here.
//   - PN compares NormalizeName forms, so matching is case- and
//     accent-insensitive, and wildcards apply to the normalised forms. A
//     key without '=' is compared with each component group of the record
//     and matches if any does; a key with '=' is compared group by group,
//     an empty key group leaving that group unconstrained.
//   - Fuzzy PN matching (QIDO-RS fuzzymatching=true; PS3.18 leaves the
//     algorithm to the origin server): the key matches a component group if
//     it matches as above, or if each of its words, split on spaces, '^'
//     and '-', is a prefix of some word of the group, in any order ("jo smi"
//     matches "SMITH^JOHN"). One record word may serve several key words.
//     Wildcards keep working within a word.
package match
