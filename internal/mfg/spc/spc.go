// Package spc computes statistical process control for one measured
// characteristic: X-bar and R control charts from rational subgroups,
// process capability (Cp, Cpk) and the Western Electric run rules.
//
// It works in float64. The measured values themselves are exact decimals
// everywhere else in Mainstay; control limits, standard deviations and
// capability indices are statistics (a square root, constants tabulated
// to three places), not amounts, and are reported rounded to six decimal
// places. Nothing here is ever posted or summed into the books.
package spc

import (
	"errors"
	"fmt"
	"math"
)

// Factors for X-bar and R charts by subgroup size n (2…25): A2 for the
// X-bar limits, D3 and D4 for the R chart, d2 to estimate σ as R̄/d2.
// Montgomery, Introduction to Statistical Quality Control, Appendix Table VI.
var (
	a2 = map[int]float64{2: 1.880, 3: 1.023, 4: 0.729, 5: 0.577, 6: 0.483, 7: 0.419, 8: 0.373, 9: 0.337, 10: 0.308,
		11: 0.285, 12: 0.266, 13: 0.249, 14: 0.235, 15: 0.223, 16: 0.212, 17: 0.203, 18: 0.194, 19: 0.187, 20: 0.180,
		21: 0.173, 22: 0.167, 23: 0.162, 24: 0.157, 25: 0.153}
	d2 = map[int]float64{2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078,
		11: 3.173, 12: 3.258, 13: 3.336, 14: 3.407, 15: 3.472, 16: 3.532, 17: 3.588, 18: 3.640, 19: 3.689, 20: 3.735,
		21: 3.778, 22: 3.819, 23: 3.858, 24: 3.895, 25: 3.931}
	d3 = map[int]float64{2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0.076, 8: 0.136, 9: 0.184, 10: 0.223,
		11: 0.256, 12: 0.283, 13: 0.307, 14: 0.328, 15: 0.347, 16: 0.363, 17: 0.378, 18: 0.391, 19: 0.403, 20: 0.415,
		21: 0.425, 22: 0.434, 23: 0.443, 24: 0.451, 25: 0.459}
	d4 = map[int]float64{2: 3.267, 3: 2.574, 4: 2.282, 5: 2.114, 6: 2.004, 7: 1.924, 8: 1.864, 9: 1.816, 10: 1.777,
		11: 1.744, 12: 1.717, 13: 1.693, 14: 1.672, 15: 1.653, 16: 1.637, 17: 1.622, 18: 1.608, 19: 1.597, 20: 1.585,
		21: 1.575, 22: 1.566, 23: 1.557, 24: 1.548, 25: 1.541}
)

// ErrSubgroups means the data cannot make X-bar/R charts.
var ErrSubgroups = errors.New("spc: need at least two subgroups of one size between 2 and 25")

// Limits are a control chart's centre line and limits.
type Limits struct {
	Center, UCL, LCL float64
}

// Point is one subgroup on the charts.
type Point struct {
	Index int
	Mean  float64
	Range float64
	OutX  bool     // mean outside the X-bar limits
	OutR  bool     // range outside the R limits
	Rules []string // run rules this point completes
}

// Result is the analysis of one characteristic.
type Result struct {
	SubgroupSize  int
	Subgroups     int
	GrandMean     float64 // x̿
	RBar          float64 // R̄
	StdDev        float64 // sample standard deviation of all values (n − 1)
	SigmaWithin   float64 // R̄ / d2
	XBar          Limits
	R             Limits
	Cp, Cpk       float64 // NaN without both specification limits
	HasCapability bool
	Points        []Point
	OutOfControl  int // points outside either chart's limits or completing a run rule
}

// Analyze computes X-bar and R charts for subgroups (each the same size
// n, 2 ≤ n ≤ 25), capability against lsl/usl, and the run rules:
//
//	rule 1: one mean beyond 3σ (outside the control limits)
//	rule 2: two of three consecutive means beyond 2σ on the same side
//	rule 3: four of five consecutive means beyond 1σ on the same side
//	rule 4: eight consecutive means on the same side of the centre line
//
// where σ of a mean is (UCL − centre)/3 = A2·R̄/3.
func Analyze(subgroups [][]float64, lsl, usl float64, hasSpec bool) (Result, error) {
	if len(subgroups) < 2 {
		return Result{}, ErrSubgroups
	}
	n := len(subgroups[0])
	if n < 2 || n > 25 {
		return Result{}, ErrSubgroups
	}
	r := Result{SubgroupSize: n, Subgroups: len(subgroups)}
	var sumMean, sumR, sum float64
	var all []float64
	for i, g := range subgroups {
		if len(g) != n {
			return Result{}, fmt.Errorf("%w: subgroup %d has %d values, the first %d", ErrSubgroups, i, len(g), n)
		}
		lo, hi, s := g[0], g[0], 0.0
		for _, v := range g {
			lo, hi, s = math.Min(lo, v), math.Max(hi, v), s+v
		}
		p := Point{Index: i, Mean: s / float64(n), Range: hi - lo}
		r.Points = append(r.Points, p)
		sumMean += p.Mean
		sumR += p.Range
		sum += s
		all = append(all, g...)
	}
	k := float64(len(subgroups))
	r.GrandMean, r.RBar = sumMean/k, sumR/k
	mean := sum / float64(len(all))
	var ss float64
	for _, v := range all {
		ss += (v - mean) * (v - mean)
	}
	r.StdDev = math.Sqrt(ss / float64(len(all)-1))
	r.SigmaWithin = r.RBar / d2[n]
	r.XBar = Limits{Center: r.GrandMean, UCL: r.GrandMean + a2[n]*r.RBar, LCL: r.GrandMean - a2[n]*r.RBar}
	r.R = Limits{Center: r.RBar, UCL: d4[n] * r.RBar, LCL: d3[n] * r.RBar}
	r.Cp, r.Cpk = math.NaN(), math.NaN()
	if hasSpec && r.SigmaWithin > 0 {
		r.HasCapability = true
		r.Cp = (usl - lsl) / (6 * r.SigmaWithin)
		r.Cpk = math.Min(usl-r.GrandMean, r.GrandMean-lsl) / (3 * r.SigmaWithin)
	}
	sigma := a2[n] * r.RBar / 3
	side := func(m float64, z float64) int {
		switch {
		case m > r.GrandMean+z*sigma:
			return 1
		case m < r.GrandMean-z*sigma:
			return -1
		}
		return 0
	}
	for i := range r.Points {
		p := &r.Points[i]
		p.OutX = p.Mean > r.XBar.UCL || p.Mean < r.XBar.LCL
		p.OutR = p.Range > r.R.UCL || p.Range < r.R.LCL
		if p.OutX {
			p.Rules = append(p.Rules, "beyond_3_sigma")
		}
		if sigma > 0 {
			if kOfLast(r.Points[:i+1], 3, 2, func(m float64) int { return side(m, 2) }) {
				p.Rules = append(p.Rules, "2_of_3_beyond_2_sigma")
			}
			if kOfLast(r.Points[:i+1], 5, 4, func(m float64) int { return side(m, 1) }) {
				p.Rules = append(p.Rules, "4_of_5_beyond_1_sigma")
			}
		}
		if kOfLast(r.Points[:i+1], 8, 8, func(m float64) int { return side(m, 0) }) {
			p.Rules = append(p.Rules, "8_on_one_side")
		}
		if p.OutX || p.OutR || len(p.Rules) > 0 {
			r.OutOfControl++
		}
	}
	return r, nil
}

// kOfLast reports whether at least k of the last w points (ending with the
// last one, which must itself count) fall on one side by sideOf.
func kOfLast(pts []Point, w, k int, sideOf func(float64) int) bool {
	if len(pts) < w {
		return false
	}
	last := sideOf(pts[len(pts)-1].Mean)
	if last == 0 {
		return false
	}
	n := 0
	for _, p := range pts[len(pts)-w:] {
		if sideOf(p.Mean) == last {
			n++
		}
	}
	return n >= k
}
