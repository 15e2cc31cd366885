package spc

import (
	"math"
	"testing"
)

// pistonRings is Montgomery, Introduction to Statistical Quality Control
// (6th ed., Wiley 2009), Table 6.3: inside diameter (mm) of forged
// automobile engine piston rings, 25 samples of 5 (the same data as the R
// package qcc's pistonrings, trial samples).
var pistonRings = [][]float64{
	{74.030, 74.002, 74.019, 73.992, 74.008},
	{73.995, 73.992, 74.001, 74.011, 74.004},
	{73.988, 74.024, 74.021, 74.005, 74.002},
	{74.002, 73.996, 73.993, 74.015, 74.009},
	{73.992, 74.007, 74.015, 73.989, 74.014},
	{74.009, 73.994, 73.997, 73.985, 73.993},
	{73.995, 74.006, 73.994, 74.000, 74.005},
	{73.985, 74.003, 73.993, 74.015, 73.988},
	{74.008, 73.995, 74.009, 74.005, 74.004},
	{73.998, 74.000, 73.990, 74.007, 73.995},
	{73.994, 73.998, 73.994, 73.995, 73.990},
	{74.004, 74.000, 74.007, 74.000, 73.996},
	{73.983, 74.002, 73.998, 73.997, 74.012},
	{74.006, 73.967, 73.994, 74.000, 73.984},
	{74.012, 74.014, 73.998, 73.999, 74.007},
	{74.000, 73.984, 74.005, 73.998, 73.996},
	{73.994, 74.012, 73.986, 74.005, 74.007},
	{74.006, 74.010, 74.018, 74.003, 74.000},
	{73.984, 74.002, 74.003, 74.005, 73.997},
	{74.000, 74.010, 74.013, 74.020, 74.003},
	{73.982, 74.001, 74.015, 74.005, 73.996},
	{74.004, 73.999, 73.990, 74.006, 74.009},
	{74.010, 73.989, 73.990, 74.009, 74.014},
	{74.015, 74.008, 73.993, 74.000, 74.010},
	{73.982, 73.984, 73.995, 74.017, 74.013},
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f ± %g", what, got, want, tol)
	}
}

// TestPistonRings checks the charts against Montgomery's Example 6.1 and
// 8.x: x̿ = 74.001, R̄ = 0.023, X-bar limits 73.988 / 74.014, R chart UCL
// 0.049 (printed to three places, from the rounded x̿ and R̄); unrounded
// these are x̿ = 74.00118, R̄ = 0.02324, limits 73.98777 / 74.01459 (the
// values qcc prints). σ̂ = R̄/d2 = 0.0099 and, with the specification
// 74.000 ± 0.05 mm, Cp = 0.10 / (6 × 0.0099) = 1.68 in the book; 1.668
// unrounded. The process is in control: no point is outside the limits.
func TestPistonRings(t *testing.T) {
	r, err := Analyze(pistonRings, 73.95, 74.05, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "x̿", r.GrandMean, 74.00118, 0.000005)
	near(t, "R̄", r.RBar, 0.02324, 0.000005)
	near(t, "UCL", r.XBar.UCL, 74.01459, 0.00001)
	near(t, "LCL", r.XBar.LCL, 73.98777, 0.00001)
	// The book's three-place figures.
	near(t, "x̿ (book)", r.GrandMean, 74.001, 0.0005)
	near(t, "R̄ (book)", r.RBar, 0.023, 0.0005)
	near(t, "UCL (book)", r.XBar.UCL, 74.014, 0.001)
	near(t, "LCL (book)", r.XBar.LCL, 73.988, 0.001)
	near(t, "R UCL (book)", r.R.UCL, 0.049, 0.0005)
	near(t, "R LCL", r.R.LCL, 0, 0)
	near(t, "σ̂ (book)", r.SigmaWithin, 0.0099, 0.0001)
	near(t, "Cp", r.Cp, 0.10/(6*r.SigmaWithin), 1e-12)
	near(t, "Cp (book 1.68)", r.Cp, 1.68, 0.015)
	near(t, "Cpk", r.Cpk, (74.05-74.00118)/(3*r.SigmaWithin), 0.001)
	// Table 6.3 prints each sample's mean; a few as a transcription check.
	for i, want := range map[int]float64{0: 74.010, 1: 74.001, 2: 74.008, 13: 73.990, 24: 73.998} {
		near(t, "mean of sample", r.Points[i].Mean, want, 0.0005)
	}
	if r.OutOfControl != 0 {
		for _, p := range r.Points {
			if p.OutX || p.OutR || len(p.Rules) > 0 {
				t.Logf("point %d: mean %.4f range %.4f rules %v", p.Index, p.Mean, p.Range, p.Rules)
			}
		}
		t.Errorf("%d points out of control; Montgomery finds the process in control", r.OutOfControl)
	}
	near(t, "std dev", r.StdDev, 0.01, 0.002)
}

func TestRunRules(t *testing.T) {
	base := [][]float64{}
	for i := 0; i < 20; i++ {
		d := 0.1
		if i%2 == 0 {
			d = -0.1
		}
		base = append(base, []float64{10 + d, 10 - d, 10 + d/2, 10})
	}
	// Eight subgroups a little above the centre: rule 4 on the eighth.
	shifted := append([][]float64{}, base...)
	for i := 0; i < 8; i++ {
		shifted = append(shifted, []float64{10.02, 10.03, 10.01, 10.02})
	}
	r, err := Analyze(shifted, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	last := r.Points[len(r.Points)-1]
	found := false
	for _, rule := range last.Rules {
		found = found || rule == "8_on_one_side"
	}
	if !found || r.HasCapability {
		t.Fatalf("last point rules %v, capability %v", last.Rules, r.HasCapability)
	}
	// One wild subgroup: beyond 3σ.
	wild := append(append([][]float64{}, base...), []float64{11, 11.1, 11, 11})
	if r, _ = Analyze(wild, 0, 0, false); !r.Points[len(r.Points)-1].OutX {
		t.Fatalf("wild point not out: %+v limits %+v", r.Points[len(r.Points)-1], r.XBar)
	}
	if _, err := Analyze([][]float64{{1, 2}}, 0, 0, false); err == nil {
		t.Fatal("one subgroup accepted")
	}
	if _, err := Analyze([][]float64{{1, 2}, {1, 2, 3}}, 0, 0, false); err == nil {
		t.Fatal("ragged subgroups accepted")
	}
}
