// Package proofing is shenfen's identity proofing: enrollment sessions with
// a single-use spoken-digit challenge bound to a device key, and the decision
// that approves or refuses an enrollment by checking, in order, the signed
// submission, the registry record and name, the selfie face against the
// registry portrait's template, the spoken digits, and the liveness of the
// video frames.
//
// The package holds the rules; the engines (face, speech), the registry,
// the status lists and the storage are reached through the small interfaces
// declared here, which the wiring in cmd/shenfen fills with the real parts.
//
// Privacy: a refusal for record, status, name or face is one error
// ([ErrRefused]) so the service is no oracle for "does this ID number
// exist", and the selfie is analysed whether the record exists or not so
// that response time tells nothing either. Evidence (selfie, audio, frames)
// is kept sealed only while the decision runs and deleted in the same
// transaction that records the decision.
//
// Crash safety: a submission moves its session from pending to deciding
// under a lease; the decision, the credential offer, the evidence deletion
// and the revocation marks for the citizen's earlier cards are written in
// one transaction. A process that dies mid-decision leaves a deciding
// session whose lease expires, after which the same challenge can be
// submitted again; nothing is ever half approved.
package proofing
