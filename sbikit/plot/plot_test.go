package plot

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// TestPNGDrawsPanelsSideBySide decodes the image and checks its size (3.3 in at 96 dpi per panel)
// and that each set is drawn in its palette colour.
func TestPNGDrawsPanelsSideBySide(t *testing.T) {
	a := Within(Scatter("a", "x₁", "x₂", [][]float64{{0, 0}, {0.5, 0.5}}), []float64{-1, -1}, []float64{1, 1})
	b := Mark(Scatter("b", "y₁", "y₂", nil, [][]float64{{1, 2}, {3, 4}}), []float64{2, 3}, 2)
	data, err := PNG(a, b)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < 630 || w > 640 || h < 315 || h > 320 {
		t.Errorf("image is %d×%d, want about 634×317 (two 3.3-inch panels at 96 dpi)", w, h)
	}
	for k, half := range []image.Rectangle{image.Rect(0, 0, 317, 317), image.Rect(317, 0, 634, 317)} {
		want := []int{0, 1}[k] // Panel b's set is second: nil kept colour slot 0 free.
		if !hasColour(img, half, Palette[want]) {
			t.Errorf("panel %d has no pixel of palette colour %d", k, want)
		}
	}
	if !hasColour(img, image.Rect(317, 0, 634, 317), Palette[2]) {
		t.Error("the mark (palette colour 2) is missing from panel b")
	}
	if _, err := PNG(); err == nil {
		t.Error("PNG of no plots: want an error")
	}
}

func hasColour(img image.Image, r image.Rectangle, c interface{ RGBA() (r, g, b, a uint32) }) bool {
	cr, cg, cb, _ := c.RGBA()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if pr == cr && pg == cg && pb == cb {
				return true
			}
		}
	}
	return false
}
