package progress

import (
	"bytes"
	"testing"
)

func TestReporterOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "image.runner")
	if r.Terminal() {
		t.Fatal("a buffer is not a terminal")
	}
	r.Statusf("unpacking layer %d", 1)
	r.Printf("unpacked %d layers", 2)
	r.Done()
	if got, want := buf.String(), "image.runner: unpacked 2 layers\n"; got != want {
		t.Errorf("wrote %q, want %q (status lines only on a terminal)", got, want)
	}
}

func TestNilReporterIsQuiet(t *testing.T) {
	r := New(nil, "image.runner")
	if r != nil || r.Writer() != nil || r.Terminal() {
		t.Fatal("no writer must give a quiet reporter")
	}
	r.Printf("x")
	r.Statusf("x")
	r.Done()
}

func TestTerminalStatusLine(t *testing.T) {
	var buf bytes.Buffer
	r := &Reporter{w: &buf, tty: true, prefix: "image.a"}
	r.Statusf("layer 1/2")
	r.Printf("done")
	if got, want := buf.String(), "\r\x1b[Kimage.a: layer 1/2\r\x1b[Kimage.a: done\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
