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
