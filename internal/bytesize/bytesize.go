// Package bytesize parses and formats the sizes operators write in rigplan
// configurations: "30G", "512MiB", "1.5T", "100GB".
//
// Units follow LVM's convention, because most sizes end up on an LVM
// command line and an operator who knows `lvcreate -L 30G` must get the
// same 30 GiB from rigplan:
//
//   - K, M, G, T, P and KiB, MiB, GiB, TiB, PiB are binary (powers of 1024);
//   - KB, MB, GB, TB, PB are decimal (powers of 1000), for sizes copied from
//     a disk vendor's data sheet;
//   - B is bytes.
//
// A bare number is refused: "30" could mean bytes (as in most tools) or MiB
// (as in lvcreate), and guessing wrong loses a factor of a million.
package bytesize

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Binary unit sizes.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// ErrNoUnit is wrapped by Parse's error for a number without a unit.
var ErrNoUnit = errors.New("size has no unit")

// units maps each accepted suffix, upper-cased, to its size in bytes.
var units = map[string]int64{
	"B": 1,
	"K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": PiB,
	"KIB": KiB, "MIB": MiB, "GIB": GiB, "TIB": TiB, "PIB": PiB,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
}

// Parse reads a size such as "30G", "512MiB", "1.5T" or "100GB" and returns
// it in bytes. Unit letters may be in either case; a space may separate the
// number from the unit. A fractional result is rounded up to a whole byte
// (LVM rounds every size up to whole extents anyway).
func Parse(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty size: write a size such as \"30G\"")
	}
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimSpace(in[i:])
	if num == "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("%q is not a size: write a number and a unit, such as \"30G\" or \"512MiB\"", s)
	}
	if unit == "" {
		return 0, fmt.Errorf("%q: %w; write %sG (GiB), %sM (MiB) or %sB (bytes)", s, ErrNoUnit, num, num, num)
	}
	mult, ok := units[strings.ToUpper(unit)]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q: use B, K, M, G, T, P (binary, like LVM), KiB…PiB (binary) or KB…PB (decimal)", s, unit)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a size: %q is not a number", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if new(big.Rat).SetInt(n).Cmp(r) != 0 {
		n.Add(n, big.NewInt(1)) // round a fractional byte up
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n.Int64(), nil
}

// formatUnits are tried largest first by Format.
var formatUnits = []struct {
	suffix string
	size   int64
}{{"P", PiB}, {"T", TiB}, {"G", GiB}, {"M", MiB}, {"K", KiB}}

// Format renders n bytes exactly, in the largest binary unit that divides
// it, using LVM's one-letter suffixes: 32212254720 → "30G", 3072 → "3K",
// 1536 → "1536B". Parse reads every result back to n.
func Format(n int64) string {
	if n == 0 {
		return "0B"
	}
	for _, u := range formatUnits {
		if n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// Human renders n approximately for messages, e.g. "1.50 GiB".
func Human(n int64) string {
	names := []string{"PiB", "TiB", "GiB", "MiB", "KiB"}
	for i, u := range []int64{PiB, TiB, GiB, MiB, KiB} {
		if n >= u {
			return fmt.Sprintf("%.2f %s", float64(n)/float64(u), names[i])
		}
	}
	return fmt.Sprintf("%d B", n)
}
