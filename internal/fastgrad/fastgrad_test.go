package fastgrad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/janpfeifer/must"
)

// testBackend is shared by all tests: a tensor can only be used with the backend it was made on.
var testBackend = sync.OnceValue(func() backends.Backend {
	return must.M1(simplego.New("ops_sequential"))
})

// dotCase is one DotGeneral configuration: operand shapes and axes.
type dotCase struct {
	lhsDims, rhsDims []int
	lc, lb, rc, rb   []int
	description      string
}

// randomDotCase draws a DotGeneral with 0–2 batch axes, 1–3 contracting axes and 0–2 free axes
// per operand, with every operand's axes in a random order.
func randomDotCase(rng *rand.Rand) dotCase {
	nb, nc := rng.IntN(3), 1+rng.IntN(3)
	nlf, nrf := rng.IntN(3), rng.IntN(3)
	dim := func() int { return 1 + rng.IntN(4) }
	batch, contract := make([]int, nb), make([]int, nc)
	for i := range batch {
		batch[i] = dim()
	}
	for i := range contract {
		contract[i] = dim()
	}
	// Place the batch, contracting and free axes of one operand at random positions.
	layout := func(nFree int) (dims, cAxes, bAxes []int) {
		rank := nb + nc + nFree
		perm := rng.Perm(rank)
		dims = make([]int, rank)
		for i, d := range batch {
			bAxes = append(bAxes, perm[i])
			dims[perm[i]] = d
		}
		for i, d := range contract {
			cAxes = append(cAxes, perm[nb+i])
			dims[perm[nb+i]] = d
		}
		for i := range nFree {
			dims[perm[nb+nc+i]] = dim()
		}
		return
	}
	var c dotCase
	c.lhsDims, c.lc, c.lb = layout(nlf)
	c.rhsDims, c.rc, c.rb = layout(nrf)
	c.description = fmt.Sprintf("lhs%v c%v b%v · rhs%v c%v b%v", c.lhsDims, c.lc, c.lb, c.rhsDims, c.rc, c.rb)
	return c
}

func randomTensor(rng *rand.Rand, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float64, size)
	for i := range data {
		data[i] = rng.NormFloat64()
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func flat(t *tensors.Tensor) []float64 {
	return tensors.MustCopyFlatData[float64](t)
}

// gradientsWith computes the first- and second-order gradients of a nonlinear loss of a
// DotGeneral under the given rules:
//
//	L₁ = Σ w ⊙ tanh(DotGeneral(lhs, rhs)),  L₂ = Σ (∂L₁/∂lhs)² + Σ sin(∂L₁/∂rhs),
//
// returning [∂L₁/∂lhs, ∂L₁/∂rhs, ∂L₂/∂lhs, ∂L₂/∂rhs].
func gradientsWith(t *testing.T, rules map[NodeType]VJP, c dotCase, lhs, rhs, w *tensors.Tensor) [][]float64 {
	Use(rules)
	defer Use(Rules)
	exec, err := NewExec(testBackend(), func(lhs, rhs, w *Node) []*Node {
		out := DotGeneral(lhs, c.lc, c.lb, rhs, c.rc, c.rb)
		l1 := ReduceAllSum(Mul(w, Tanh(out)))
		g := Gradient(l1, lhs, rhs)
		l2 := Add(ReduceAllSum(Square(g[0])), ReduceAllSum(Sin(g[1])))
		g2 := Gradient(l2, lhs, rhs)
		return []*Node{g[0], g[1], g2[0], g2[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(lhs, rhs, w)
	if err != nil {
		t.Fatalf("%s: %v", c.description, err)
	}
	return flatAll(outs)
}

func flatAll(outs []*tensors.Tensor) [][]float64 {
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = flat(o)
	}
	return res
}

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestDotGeneralMatchesStock compares first- and second-order gradients of the new DotGeneral rule
// with GoMLX's stock rule on random shapes with batch and several contracting axes.
func TestDotGeneralMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		c := randomDotCase(rng)
		lhs, rhs := randomTensor(rng, c.lhsDims), randomTensor(rng, c.rhsDims)
		out := MustExecOnce(testBackend(), func(lhs, rhs *Node) *Node {
			return DotGeneral(lhs, c.lc, c.lb, rhs, c.rc, c.rb)
		}, lhs, rhs)
		outDims := out.Shape().Dimensions
		w := randomTensor(rng, outDims)
		stock := gradientsWith(t, Stock, c, lhs, rhs, w)
		fast := gradientsWith(t, Rules, c, lhs, rhs, w)
		names := []string{"∂L₁/∂lhs", "∂L₁/∂rhs", "∂L₂/∂lhs", "∂L₂/∂rhs"}
		for i := range stock {
			if d := maxAbsDiff(stock[i], fast[i]); d > 1e-6 {
				t.Errorf("%s: %s differs from stock rule by %g", c.description, names[i], d)
			}
		}
	}
}

// TestDotMatchesStock covers graph.Dot's three cases (vector·vector, matrix·vector, matrix·matrix).
func TestDotMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dims := range [][2][]int{{{5}, {5}}, {{4, 5}, {5}}, {{4, 5}, {5, 3}}} {
		a, b := randomTensor(rng, dims[0]), randomTensor(rng, dims[1])
		grads := func(rules map[NodeType]VJP) [][]float64 {
			Use(rules)
			defer Use(Rules)
			outs := MustExecOnceN(testBackend(), func(a, b *Node) []*Node {
				l1 := ReduceAllSum(Tanh(Dot(a, b)))
				g := Gradient(l1, a, b)
				l2 := Add(ReduceAllSum(Square(g[0])), ReduceAllSum(Sin(g[1])))
				return append(g, Gradient(l2, a, b)...)
			}, a, b)
			return flatAll(outs)
		}
		stock, fast := grads(Stock), grads(Rules)
		for i := range stock {
			if d := maxAbsDiff(stock[i], fast[i]); d > 1e-6 {
				t.Errorf("Dot %v·%v: gradient %d differs from stock by %g", dims[0], dims[1], i, d)
			}
		}
	}
}

// TestSliceGradient checks the Pad-free Slice rule against finite differences, first order and
// second order (gradient of a gradient through Slice and Concatenate), with strides and offsets.
// The stock rule cannot be run here: it needs Pad, which the pure-Go backend lacks.
func TestSliceGradient(t *testing.T) {
	Register()
	rng := rand.New(rand.NewPCG(5, 6))
	x := randomTensor(rng, []int{7, 6})
	xs := flat(x)
	// f(x) = Σ w ⊙ tanh(x[1:6:2, 0:5:3]) + Σ concat(x[:, :2], x[:, 4:])³, and the second-order
	// L₂ = Σ (∂f/∂x)².
	wData := []float64{0.3, -1.2, 0.7, 0.5, 1.1, -0.4}
	f := func(x *Node) *Node {
		w := Const(x.Graph(), [][]float64{{wData[0], wData[1]}, {wData[2], wData[3]}, {wData[4], wData[5]}})
		sliced := Slice(x, AxisRange(1, 6).Stride(2), AxisRange(0, 5).Stride(3))
		cat := Concatenate([]*Node{Slice(x, AxisRange(), AxisRange(0, 2)), Slice(x, AxisRange(), AxisRange(4))}, 1)
		return Add(ReduceAllSum(Mul(w, Tanh(sliced))), ReduceAllSum(Mul(cat, Mul(cat, cat))))
	}
	backend := testBackend()
	valueExec := MustNewExec(backend, f)
	gradExec := MustNewExec(backend, func(x *Node) *Node { return Gradient(f(x), x)[0] })
	l2 := func(x *Node) *Node { return ReduceAllSum(Square(Gradient(f(x), x)[0])) }
	l2Exec := MustNewExec(backend, l2)
	grad2Exec := MustNewExec(backend, func(x *Node) *Node { return Gradient(l2(x), x)[0] })

	eval := func(e *Exec, v []float64) float64 {
		return tensors.ToScalar[float64](e.MustExec(tensors.FromFlatDataAndDimensions(v, 7, 6))[0])
	}
	check := func(name string, valueE, gradE *Exec) {
		grad := flat(gradE.MustExec(x)[0])
		const h = 1e-5
		for i := range xs {
			plus, minus := append([]float64(nil), xs...), append([]float64(nil), xs...)
			plus[i] += h
			minus[i] -= h
			fd := (eval(valueE, plus) - eval(valueE, minus)) / (2 * h)
			if math.Abs(fd-grad[i]) > 1e-6*max(1, math.Abs(fd)) {
				t.Errorf("%s: element %d: gradient %g, finite difference %g", name, i, grad[i], fd)
			}
		}
	}
	check("first order", valueExec, gradExec)
	check("second order", l2Exec, grad2Exec)
}
