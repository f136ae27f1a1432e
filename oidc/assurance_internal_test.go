package oidc

import "testing"

func TestMeetACR(t *testing.T) {
	const h, s = ACRHigh, ACRSubstantial
	tests := []struct {
		name, level string
		requested   []string
		want        string
		ok          bool
	}{
		{"nothing requested: high", h, nil, h, true},
		{"nothing requested: substantial", s, nil, s, true},
		{"high asked, high card", h, []string{h}, h, true},
		{"high asked, substantial card", s, []string{h}, s, false},
		{"substantial asked, high card meets it", h, []string{s}, s, true},
		{"preference order: high first", h, []string{h, s}, h, true},
		{"preference order: substantial accepted", s, []string{h, s}, s, true},
		{"unknown values are voluntary", s, []string{"urn:other:loa:4"}, s, true},
		{"unknown values do not lower the bar", s, []string{"urn:other:loa:4", h}, s, false},
		{"level unknown to the provider", "", []string{s}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := meetACR(tt.level, tt.requested)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("meetACR(%q, %v) = %q, %v; want %q, %v", tt.level, tt.requested, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEnrollmentLevel(t *testing.T) {
	full := EnrollmentProof{Approved: true, FaceMatched: true, Live: true, Spoken: true, CardActive: true}
	if full.Level() != ACRHigh {
		t.Fatal("face + liveness + spoken digits is not high")
	}
	for _, p := range []EnrollmentProof{
		{Approved: true, FaceMatched: true, Spoken: true, CardActive: true},
		{Approved: true, FaceMatched: true, Live: true, CardActive: true},
		{Approved: true, Live: true, Spoken: true, CardActive: true},
	} {
		if p.Level() != ACRSubstantial {
			t.Fatalf("%+v is %s, want substantial", p, p.Level())
		}
	}
}
