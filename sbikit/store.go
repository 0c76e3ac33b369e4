package sbikit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/npy"
)

// A model directory holds three files, all readable without Go (json, and np.load for the .npz):
//
//   - model.json: what the model is (method, network configuration, standardization, prior
//     support) and how its training went (epochs, losses, time, backend);
//   - params.npz: the trained parameters, the ones with the best validation loss, keyed by
//     variable scope and name ("model/transform_0/layer_0/weights");
//   - state.npz: everything the training loop needs to continue where it stopped: the latest
//     parameters, the optimizer's moments and step count.
//
// Each file is written to a temporary name and renamed, so an interrupted save leaves the previous
// checkpoint intact, and training resumes from it.
const (
	modelFile  = "model.json"
	paramsFile = "params.npz"
	stateFile  = "state.npz"

	// modelScope is the context scope of the trainable parameters; everything else in a training
	// context (optimizer moments, step counters) is training state.
	modelScope = "model"
)

// snapshot copies the variables of ctx whose scope is under /prefix (every variable for "") into
// arrays keyed by their scope and name without the leading "/". Variables of dtypes that .npy cannot
// hold here (the random-number state) are left out.
func snapshot(ctx *context.Context, prefix string) (map[string]*npy.Array, error) {
	arrays := map[string]*npy.Array{}
	var err error
	ctx.EnumerateVariables(func(v *context.Variable) {
		key := strings.TrimPrefix(v.ScopeAndName(), context.ScopeSeparator)
		if err != nil || (prefix != "" && !strings.HasPrefix(key, prefix+context.ScopeSeparator)) {
			return
		}
		t, e := v.Value()
		if e != nil {
			err = fmt.Errorf("reading variable %s: %w", key, e)
			return
		}
		dims := t.Shape().Dimensions
		switch t.DType() {
		case dtypes.Float32:
			flat := tensors.MustCopyFlatData[float32](t)
			wide := make([]float64, len(flat))
			for i, f := range flat {
				wide[i] = float64(f)
			}
			arrays[key] = npy.Float32(wide, dims...)
		case dtypes.Float64:
			arrays[key] = npy.Float64(tensors.MustCopyFlatData[float64](t), dims...)
		case dtypes.Int64:
			arrays[key] = npy.Int64(tensors.MustCopyFlatData[int64](t), dims...)
		}
	})
	return arrays, err
}

// restore sets the variables of ctx to arrays, creating those that do not exist yet. Variables under
// modelScope are trainable, the rest are not.
func restore(ctx *context.Context, arrays map[string]*npy.Array) error {
	for key, a := range arrays {
		var t *tensors.Tensor
		switch a.DType {
		case "<f4":
			narrow := make([]float32, len(a.Float))
			for i, f := range a.Float {
				narrow[i] = float32(f)
			}
			t = tensors.FromFlatDataAndDimensions(narrow, a.Shape...)
		case "<f8":
			t = tensors.FromFlatDataAndDimensions(a.Float, a.Shape...)
		case "<i8":
			t = tensors.FromFlatDataAndDimensions(a.Int, a.Shape...)
		default:
			return fmt.Errorf("variable %s has dtype %s, which no model variable has", key, a.DType)
		}
		scope, name := context.ScopeSeparator, key
		if i := strings.LastIndex(key, context.ScopeSeparator); i >= 0 {
			scope, name = context.ScopeSeparator+key[:i], key[i+1:]
		}
		if v := ctx.InspectVariable(scope, name); v != nil {
			if !v.Shape().Equal(t.Shape()) {
				return fmt.Errorf("variable %s has shape %s, the model needs %s", key, t.Shape(), v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return err
			}
			continue
		}
		ctx.InAbsPath(scope).Checked(false).VariableWithValue(name, t).
			SetTrainable(strings.HasPrefix(key, modelScope+context.ScopeSeparator))
	}
	return nil
}

// writeJSON writes v as indented JSON to path, atomically.
func writeJSON(path string, v any) error {
	return npy.WriteAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// readJSON reads path into v. A missing file is reported with fs.ErrNotExist in the chain.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is not valid JSON (%v); the checkpoint is corrupt: train again into a new directory", path, err)
	}
	return nil
}

// loadArrays reads one of a model directory's .npz files with an error that names the fix.
func loadArrays(dir, file string) (map[string]*npy.Array, error) {
	arrays, err := npy.LoadNPZ(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: it is not a trained model directory, or its training never finished an epoch", dir, file)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (train again into a new directory)", err)
	}
	return arrays, nil
}
