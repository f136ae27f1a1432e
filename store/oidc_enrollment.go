package store

import (
	"context"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/proofing"
)

// EnrollmentProof implements oidc.EnrollmentRecords over the proofing
// tables: the card with this status-list entry and the decision of the
// enrollment it was issued from, in one indexed lookup (status_uri,
// status_idx). A decision records -1 for a score it did not compute.
func (s *OIDC) EnrollmentProof(ctx context.Context, statusURI string, index int) (oidc.EnrollmentProof, error) {
	var state string
	var approved int
	var face, liveness, speech float64
	err := s.queryRow(ctx, `SELECT c.state, d.approved, d.face_distance, d.liveness, d.speech_confidence
		FROM proofing_cards c JOIN proofing_decisions d ON d.session_id = c.session_id
		WHERE c.status_uri = ? AND c.status_idx = ? ORDER BY c.created_at DESC LIMIT 1`, statusURI, index).
		Scan(&state, &approved, &face, &liveness, &speech)
	if err != nil {
		return oidc.EnrollmentProof{}, oidcErr("enrollment proof", notFound(err))
	}
	return oidc.EnrollmentProof{
		Approved:    approved == 1,
		FaceMatched: approved == 1 && face >= 0,
		Live:        liveness >= 0,
		Spoken:      speech >= 0,
		CardActive:  state == string(proofing.CardActive),
	}, nil
}
