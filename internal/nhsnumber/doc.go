// Package nhsnumber checks and formats NHS numbers, the 10-digit identifier
// of every patient registered with the NHS in England, Wales and the Isle of
// Man, used by Molar as the DICOM PatientID.
//
// It owns the Modulus 11 check of the NHS Data Dictionary: the first nine
// digits are multiplied by the weights 10, 9, …, 2; the check digit is 11
// minus the remainder of their sum divided by 11, 11 becoming 0; a result of
// 10 means the nine digits can never be an NHS number. Equivalently, the
// sum of all ten digits weighted 10, 9, …, 2, 1 is a multiple of 11.
// Because 11 is prime and every weight is non-zero and less than 11, any
// single wrong digit changes that sum by a non-multiple of 11, so every
// single-digit error is caught; so is every swap of two neighbouring
// digits, whose weights differ by 1.
//
// A valid check digit says only that a number is well formed, not that it
// was ever issued: whether a patient has it is for a demographics trace
// (internal/demographics). Test data uses numbers beginning 999, which are
// not issued to patients; this package accepts them like any other.
//
// Errors are written for the person at the desk, not for a developer, and
// match ErrLength, ErrNotDigits or ErrCheckDigit with errors.Is. The package
// has no state and imports no other Molar package.
package nhsnumber
