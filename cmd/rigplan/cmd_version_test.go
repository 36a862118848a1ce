package main

import (
	"debug/elf"
	"os"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/rigplanbin"
)

// TestReleaseBuild builds rigplan as `make build` does and checks what
// operators get: the version stamped in, and a static binary that runs on
// any host and inside machines whatever their libraries. It links a new
// binary (seconds once the build cache is warm); -short skips it.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rigplan as make build does; skipped with -short")
	}
	t.Parallel()
	checkMakefileBuild(t)
	const version = "v9.9.9-test"
	bin, err := rigplanbin.BuildRelease(t.TempDir(), version)
	if err != nil {
		t.Fatal(err)
	}
	if out := rigplanbin.Run(t, bin, 0, "version"); !strings.HasPrefix(out, "rigplan "+version+" (go") {
		t.Errorf("rigplan version printed %q, want rigplan %s (go…)", out, version)
	}
	if out := rigplanbin.Run(t, bin, 0, "version", "-json"); !strings.Contains(out, `"rigplan_version":"`+version+`"`) {
		t.Errorf("rigplan version -json printed %q, want rigplan_version %s", out, version)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked (built with cgo?)", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v): build it with CGO_ENABLED=0", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -ldflags -s was not applied")
	}
}

// checkMakefileBuild fails when the Makefile's build target no longer
// builds with rigplanbin.BuildRelease's flags, so that TestReleaseBuild
// keeps testing what `make build` ships.
func checkMakefileBuild(t *testing.T) {
	t.Helper()
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	want := "build -trimpath -ldflags '" + rigplanbin.ReleaseLDFlags("$(VERSION)") + "' -o bin/rigplan ./cmd/rigplan"
	if !strings.Contains(string(makefile), want) {
		t.Errorf("the Makefile's build target no longer runs `go %s`: bring rigplanbin.BuildRelease in step with it", want)
	}
	if !strings.Contains(string(makefile), "export CGO_ENABLED := 0") {
		t.Error("the Makefile no longer exports CGO_ENABLED := 0: bring rigplanbin.BuildRelease in step with it")
	}
}
