package tasks

import (
	"fmt"
	"slices"
	"strings"
)

// registry maps sbibm names to tasks.
var registry = map[string]Task{}

func init() {
	for _, t := range []Task{
		twoMoons{},
		gaussianLinear{},
		gaussianLinear{uniform: true},
		gaussianMixture{},
		slcp{},
		sir{},
		lotkaVolterra{},
	} {
		registry[t.Name()] = t
	}
}

// Register adds t to the tasks Get and Names know. It is for tasks that cannot live in this package
// because they depend on packages that depend on it: the PDE tasks of sbikit/tasks/pde, built on the
// physics simulators and priors (pde.Register adds them). Call it before looking tasks up, from one
// goroutine (an init, or the start of main); a name already taken panics (a programmer's mistake).
func Register(t Task) {
	if _, taken := registry[t.Name()]; taken {
		panic(fmt.Sprintf("tasks: Register: the name %q is taken", t.Name()))
	}
	registry[t.Name()] = t
}

// Get returns the task with the given sbibm name, e.g. "two_moons".
func Get(name string) (Task, error) {
	if t, ok := registry[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("tasks: unknown task %q; valid names are %s", name, strings.Join(Names(), ", "))
}

// Names lists the available tasks, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
