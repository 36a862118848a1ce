package testhost

import (
	"os"
	"strings"
)

// Markers PID 1 prints around the tests (see init.sh.tmpl).
const (
	markTestsStart = "testhost-init: running the tests"
	markTestsEnd   = "testhost-init: the tests exited"
)

// consoleLines reads the kernel console log as lines, without the carriage
// returns the console adds.
func consoleLines(d bootDir) []string {
	b, err := os.ReadFile(d.consoleLog())
	if err != nil {
		return []string{"(no console log: " + err.Error() + ")"}
	}
	s := strings.ReplaceAll(string(b), "\r", "")
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

// consoleTail is the last n lines of the console, indented.
func consoleTail(d bootDir, n int) string {
	return indentLines(lastN(consoleLines(d), n))
}

// kernelMessagesDuringTests is the last n console lines printed while the
// tests ran: what the kernel said about device-mapper, filesystems or
// crashes, which often explains a failure. Empty when it said nothing.
func kernelMessagesDuringTests(d bootDir, n int) string {
	var during []string
	in := false
	for _, l := range consoleLines(d) {
		switch {
		case strings.HasPrefix(l, markTestsStart):
			in = true
		case strings.HasPrefix(l, markTestsEnd):
			in = false
		case in && strings.TrimSpace(l) != "":
			during = append(during, l)
		}
	}
	return indentLines(lastN(during, n))
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

func indentLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}
