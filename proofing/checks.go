package proofing

import (
	"encoding/json"
	"fmt"
	"math"
)

// Checks are the figures of every check of a decision, kept with it (as
// JSON in Decision.Checks) for audit and calibration. They hold scores
// only: no biometric sample, no template.
type Checks struct {
	Speech SpeechCheck `json:"speech"`
	Face   FaceCheck   `json:"face"`
	Frames FramesCheck `json:"frames"`
	Sync   SyncCheck   `json:"sync"`
	Light  LightCheck  `json:"light"`
	Replay ReplayCheck `json:"replay"`
}

// SpeechCheck is the reading's check.
type SpeechCheck struct {
	Accepted   bool    `json:"accepted"`
	Score      float64 `json:"score"`
	Reason     string  `json:"reason,omitempty"`
	Words      int     `json:"words"`
	DurationMS int64   `json:"duration_ms"`
}

// FaceCheck is the selfie against the registry portrait.
type FaceCheck struct {
	Distance float64 `json:"distance"`
	Copy     bool    `json:"copy"`
	// PortraitHashBits is the difference-hash distance of selfie and
	// portrait (-1 when not computed).
	PortraitHashBits int `json:"portrait_hash_bits"`
}

// FramesCheck is the frames' face.
type FramesCheck struct {
	Count            int     `json:"count"`
	Found            float64 `json:"found"`
	Checked          int     `json:"checked"`
	ProbeDistance    float64 `json:"probe_distance"`
	TemplateDistance float64 `json:"template_distance"`
	TemplateCopy     bool    `json:"template_copy"`
}

// SyncCheck is the audio-visual synchrony check.
type SyncCheck struct {
	Pass        bool    `json:"pass"`
	Corr        float64 `json:"corr"`
	LagMS       int64   `json:"lag_ms"`
	Words       int     `json:"words"`
	Active      int     `json:"active"`
	MinActivity float64 `json:"min_activity"`
	Why         string  `json:"why,omitempty"`
}

// LightCheck is the light challenge's check.
type LightCheck struct {
	Pass      bool    `json:"pass"`
	Corr      float64 `json:"corr"`
	LatencyMS int64   `json:"latency_ms"`
	Judged    int     `json:"judged"`
	Agree     int     `json:"agree"`
	Why       string  `json:"why,omitempty"`
}

// ReplayCheck counts the media hashes already seen in another submission.
type ReplayCheck struct {
	Seen int `json:"seen"`
}

func (c Checks) json() string {
	b, err := json.Marshal(c)
	if err != nil {
		// Only non-finite floats fail, and finite() removes them.
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// finite maps NaN and infinities (no data) to -1.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}
