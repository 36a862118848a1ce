// Command sandbox runs a command as root inside rigplan's sandbox kernel:
// User-Mode Linux with the host's files, real device-mapper, and four
// empty sparse scratch disks (/dev/ubda … /dev/ubdd) that vanish afterwards,
// to try rigplan on real LVM without touching a real disk:
//
//	go run ./testhost/sandbox -disk-size 64G -- bin/rigplan plan -var 'devices=["/dev/ubda"]' examples/lvm-cache-runner
//
// It needs root and Debian's user-mode-linux and lvm2 packages. (`make
// demo` runs the whole runner host in the systemd flavour instead: see
// package e2e.) -prepare-systemd-root builds that flavour's cached Debian
// root ahead of the tests, as CI does.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/testhost"
)

func main() {
	timeout := flag.Duration("timeout", 30*time.Minute, "stop the sandbox after this long, boot included")
	diskSize := flag.String("disk-size", "8G", "apparent size of each sparse scratch disk")
	prepare := flag.Bool("prepare-systemd-root", false, "only build the systemd test host's cached Debian root, if it is not built yet")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: sandbox [-timeout D] [-disk-size SIZE] -- COMMAND [ARG...]\n       sandbox -prepare-systemd-root\n\nRuns COMMAND as root in the sandbox kernel, with scratch disks %v.\n\n", testhost.ScratchDisks())
		flag.PrintDefaults()
	}
	flag.Parse()
	if *prepare {
		root, err := testhost.PrepareSystemdRoot(context.Background(), os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
			os.Exit(1)
		}
		fmt.Println("systemd test host root:", root)
		return
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	size, err := bytesize.Parse(*diskSize)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: -disk-size: %v\n", err)
		os.Exit(2)
	}
	argv := flag.Args()
	if abs, err := filepath.Abs(argv[0]); err == nil && fileExists(abs) {
		argv[0] = abs // the kernel's root is the host's /, so the path holds inside
	}
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := testhost.Run(ctx, testhost.Sandbox{Argv: argv, Dir: dir, Env: os.Environ(), Timeout: *timeout, DiskSize: int64(size)}, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
