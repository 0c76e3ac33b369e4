package pde

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/burgers"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Burgers is "burgers": recover the initial condition of viscous Burgers' equation,
// ∂u/∂t + u∂u/∂x = ν∂²u/∂x², on the periodic unit interval from a noisy picture of u(T), after its
// steep fronts have formed. x = (a₁, b₁, …, a_M, b_M), the amplitudes of the first M Fourier modes,
//
//	u₀(x) = Σ_m a_m cos(2πmx) + b_m sin(2πmx),
//
// each uniform on [−Amplitude, Amplitude]; y = u(T) on the Cells cells + N(0, Sigma²) per cell.
// Fronts form at about t = 1/max(−u₀') (1/(2π) for a unit sine), so with the defaults most draws
// have shocks by T; a shock forgets where its characteristics came from, which makes the posterior
// broad in the directions the shocks hide. The scheme is physics/burgers' MUSCL finite-volume
// scheme with a dt that is stable for every x in the prior's box.
//
// ν is a setting, not a parameter: physics/burgers steps a batch with one viscosity.
type Burgers struct {
	Cells     int     // the grid
	Modes     int     // M: x has 2M components
	Amplitude float64 // the half-width of the prior box of each amplitude
	Nu, T     float64 // the viscosity ν and the time of the observation
	Sigma     float64 // the standard deviation of the observation noise
}

var _ Task = Burgers{}

// NewBurgers is the registered burgers: 128 cells, M = 2 modes in [−1, 1], ν = 0.002, T = 0.3,
// noise 0.05.
func NewBurgers() Burgers {
	return Burgers{Cells: 128, Modes: 2, Amplitude: 1, Nu: 0.002, T: 0.3, Sigma: 0.05}
}

func (Burgers) Name() string     { return "burgers" }
func (t Burgers) DimX() int      { return 2 * t.Modes }
func (t Burgers) DimY() int      { return t.Cells }
func (t Burgers) Noise() float64 { return t.Sigma }

// Prior is the box of the amplitudes.
func (t Burgers) Prior() tasks.Prior {
	lo, hi := make([]float64, t.DimX()), make([]float64, t.DimX())
	for j := range lo {
		lo[j], hi[j] = -t.Amplitude, t.Amplitude
	}
	return tasks.Uniform(lo, hi)
}

// simulator is the MUSCL scheme with the largest stable dt that divides T into whole steps. Its
// UMax, Σ_m √(a_m² + b_m²) ≤ √2·M·Amplitude, bounds max|u₀| over the prior's box, and so |u| for
// all time (Burgers' maximum principle).
func (t Burgers) simulator() (burgers.Burgers, int) {
	s := burgers.Burgers{Domain: grid.New1D(t.Cells, 1, grid.Periodic), Nu: t.Nu, MUSCL: true,
		UMax: math.Sqrt2 * float64(t.Modes) * t.Amplitude}
	steps := int(math.Ceil(t.T / s.MaxDt()))
	s.Dt = t.T / float64(steps)
	return s, steps
}

// Simulator steps u by T/Steps.
func (t Burgers) Simulator() physics.Simulator {
	s, _ := t.simulator()
	return s
}

// Steps is the number of steps to T.
func (t Burgers) Steps() int {
	_, steps := t.simulator()
	return steps
}

// Initial is u₀ = x·B, with row 2(m−1) of B the cos(2πmx) and row 2(m−1)+1 the sin(2πmx) of the
// cell centres.
func (t Burgers) Initial(x *Node) []*Node {
	coords := grid.New1D(t.Cells, 1, grid.Periodic).Coords(0)
	basis := make([][]float64, t.DimX())
	for m := 1; m <= t.Modes; m++ {
		cos, sin := make([]float64, t.Cells), make([]float64, t.Cells)
		for i, c := range coords {
			sin[i], cos[i] = math.Sincos(2 * math.Pi * float64(m) * c)
		}
		basis[2*(m-1)], basis[2*(m-1)+1] = cos, sin
	}
	return []*Node{MatMul(x, ConstAsDType(x.Graph(), x.DType(), basis))}
}

// Observe is u.
func (Burgers) Observe(state []*Node) *Node { return state[0] }

// Simulate draws y ~ p(y|x) for each row of x (see the type).
func (t Burgers) Simulate(x [][]float64, seed uint64) [][]float64 { return simulate(t, x, seed) }
