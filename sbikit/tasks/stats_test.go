package tasks

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// Statistics the tests use to compare samples.

func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

func column(rows [][]float64, j int) []float64 {
	c := make([]float64, len(rows))
	for i, r := range rows {
		c[i] = r[j]
	}
	return c
}

// ks is the two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b|.
func ks(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Float64s(a)
	sort.Float64s(b)
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		v := math.Min(a[i], b[j])
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// ksCritical is the 1−α quantile of the two-sample KS statistic for sizes n and m
// (asymptotic: c(α)·√((n+m)/(n·m)), c = 1.63 for α = 0.01).
func ksCritical(n, m int) float64 {
	return 1.63 * math.Sqrt(float64(n+m)/float64(n*m))
}

// slicedKS is the largest KS statistic over the coordinate axes and nDirs random directions,
// after standardising with the reference's mean and std: a cheap multivariate check.
func slicedKS(samples, ref [][]float64, nDirs int, seed uint64) float64 {
	dim := len(ref[0])
	mean, std := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		mean[j], std[j] = meanStd(column(ref, j))
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	project := func(rows [][]float64, dir []float64) []float64 {
		p := make([]float64, len(rows))
		for i, r := range rows {
			for j := range dim {
				p[i] += dir[j] * (r[j] - mean[j]) / std[j]
			}
		}
		return p
	}
	worst := 0.0
	for d := range dim + nDirs {
		dir := make([]float64, dim)
		if d < dim {
			dir[d] = 1
		} else {
			for j := range dir {
				dir[j] = rng.NormFloat64()
			}
		}
		worst = math.Max(worst, ks(project(samples, dir), project(ref, dir)))
	}
	return worst
}

// knnAccuracy is a classifier two-sample test in the spirit of C2ST: pool m points of each
// set, standardised with the reference's mean and std, classify each point by the majority of
// its k nearest other points, and return the accuracy. 0.5 means indistinguishable.
func knnAccuracy(samples, ref [][]float64, m, k int) float64 {
	dim := len(ref[0])
	mean, std := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		mean[j], std[j] = meanStd(column(ref, j))
	}
	var pts [][]float64
	var label []int
	for s, set := range [][][]float64{samples, ref} {
		for i := range m {
			p := make([]float64, dim)
			for j := range dim {
				p[j] = (set[i*len(set)/m][j] - mean[j]) / std[j]
			}
			pts = append(pts, p)
			label = append(label, s)
		}
	}
	correct := 0
	// For each point keep its k nearest others by insertion into a short sorted list.
	dist := make([]float64, k)
	labs := make([]int, k)
	for i, p := range pts {
		for j := range dist {
			dist[j] = math.Inf(1)
		}
		for l, q := range pts {
			if l == i {
				continue
			}
			d := 0.0
			for j := range dim {
				d += (p[j] - q[j]) * (p[j] - q[j])
			}
			if d >= dist[k-1] {
				continue
			}
			pos := k - 1
			for pos > 0 && dist[pos-1] > d {
				dist[pos], labs[pos] = dist[pos-1], labs[pos-1]
				pos--
			}
			dist[pos], labs[pos] = d, label[l]
		}
		votes := 0
		for _, l := range labs {
			votes += l
		}
		if (2*votes > k) == (label[i] == 1) {
			correct++
		}
	}
	return float64(correct) / float64(len(pts))
}

// sbibmDir is where the sbibm reference files are (SbibmDir); tests that need them skip without.
func sbibmDir(t testing.TB) string {
	dir, err := SbibmDir()
	if err != nil {
		t.Skip(err)
	}
	return dir
}
