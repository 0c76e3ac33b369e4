// Package plot draws probinv's figures as PNG images with gonum/plot and shows them in GoNB
// notebooks. PNG renders everywhere a notebook is read: offline, in CI's headless runs, on GitHub
// and in exported HTML (plotly output needs its library from a CDN and does not).
//
// The helpers return *plot.Plot from gonum.org/v1/plot, so anything gonum/plot offers (legends,
// other plotters, axis settings) can be added before Show or PNG.
package plot

import (
	"bytes"
	"fmt"
	"image/color"

	"github.com/janpfeifer/gonb/gonbui"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Palette colours the sets of a figure in order (the Tableau colours matplotlib users know).
var Palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},  // blue
	color.RGBA{R: 255, G: 127, B: 14, A: 255},  // orange
	color.RGBA{R: 44, G: 160, B: 44, A: 255},   // green
	color.RGBA{R: 214, G: 39, B: 40, A: 255},   // red
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, // purple
}

// Scatter plots the first two columns of each set of rows, set k in Palette[k]. A nil set draws
// nothing but keeps its colour slot, so that one quantity keeps one colour across panels.
func Scatter(title, xLabel, yLabel string, sets ...[][]float64) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	for k, rows := range sets {
		if rows != nil {
			addPoints(p, rows, k, vg.Points(1))
		}
	}
	return p
}

// Mark adds one large dot at pt, in Palette[k]: a true parameter, an observation.
func Mark(p *plot.Plot, pt []float64, k int) *plot.Plot {
	addPoints(p, [][]float64{pt}, k, vg.Points(4))
	return p
}

// Within fixes the axes to the box [lo₀, hi₀] × [lo₁, hi₁], e.g. a prior's support.
func Within(p *plot.Plot, lo, hi []float64) *plot.Plot {
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo[0], hi[0], lo[1], hi[1]
	return p
}

func addPoints(p *plot.Plot, rows [][]float64, k int, radius vg.Length) {
	xy := make(plotter.XYs, len(rows))
	for i, row := range rows {
		if len(row) < 2 {
			panic(fmt.Sprintf("plot: row %d has %d columns, need at least 2", i, len(row)))
		}
		xy[i].X, xy[i].Y = row[0], row[1]
	}
	s, err := plotter.NewScatter(xy)
	if err != nil {
		panic(fmt.Sprintf("plot: %v", err)) // Only for NaN/Inf coordinates.
	}
	s.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: radius, Color: Palette[k%len(Palette)]}
	p.Add(s)
}

// PNG draws the plots side by side, each in a 3.3-inch square at 96 dpi, into one PNG image.
func PNG(plots ...*plot.Plot) ([]byte, error) {
	if len(plots) == 0 {
		return nil, fmt.Errorf("plot: PNG needs at least one plot")
	}
	const side = 3.3 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(side*vg.Length(len(plots)), side), vgimg.UseDPI(96))
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(16), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, draw.New(img))
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	var png bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&png); err != nil {
		return nil, fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return png.Bytes(), nil
}

// Show displays the plots side by side as one PNG image in the current GoNB cell. Outside a
// notebook it does nothing.
func Show(plots ...*plot.Plot) error {
	png, err := PNG(plots...)
	if err != nil {
		return err
	}
	gonbui.DisplayPNG(png)
	gonbui.Sync() // Wait until GoNB has the image: a cell that exits right away could lose it.
	return nil
}
