//go:build !noxla

package backend

// The XLA backend (PJRT plugins, cgo) is compiled in unless the noxla build tag is given.
import _ "github.com/gomlx/gomlx/backends/xla"
