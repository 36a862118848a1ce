package schema

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// evalExpr evaluates one HCL expression with the rigplan functions, the
// way a configuration would use them.
func evalExpr(t *testing.T, baseDir, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(&hcl.EvalContext{Functions: Functions(baseDir)})
}

// TestFunctionsNames pins the set of names a Terraform user expects, so
// that dropping one is a visible change.
func TestFunctionsNames(t *testing.T) {
	want := strings.Fields(`abs ceil floor max min parseint pow signum log
		chomp format formatlist indent join lower upper replace regex regexall
		split strrev substr title trim trimprefix trimsuffix trimspace
		alltrue anytrue chunklist coalesce coalescelist compact concat contains
		distinct element flatten index keys length lookup merge range reverse
		setintersection setproduct setsubtract setunion slice sort sum
		transpose values zipmap csvdecode jsondecode jsonencode tobool tolist
		tomap tonumber toset tostring formatdate timeadd try can base64encode
		base64decode sha256 sha1 md5 file filesha256 hashfiles`)
	funcs := Functions(t.TempDir())
	for _, name := range want {
		if _, ok := funcs[name]; !ok {
			t.Errorf("function %q is missing", name)
		}
	}
	if len(funcs) != len(want) {
		t.Errorf("Functions has %d entries, the pinned list %d: update the list when adding one", len(funcs), len(want))
	}
}

// TestFunctionsMapIsFresh checks that callers can't affect each other.
func TestFunctionsMapIsFresh(t *testing.T) {
	a := Functions("/a")
	delete(a, "upper")
	if _, ok := Functions("/a")["upper"]; !ok {
		t.Fatal("deleting from one map removed the function from the next")
	}
}

func TestFunctionsEval(t *testing.T) {
	tests := []struct {
		expr string
		want cty.Value
	}{
		{`abs(-3)`, cty.NumberIntVal(3)},
		{`ceil(1.2) + floor(1.8)`, cty.NumberIntVal(3)},
		{`max(1, 5, 3) - min(4, 2)`, cty.NumberIntVal(3)},
		{`parseint("ff", 16)`, cty.NumberIntVal(255)},
		{`pow(2, 10)`, cty.NumberIntVal(1024)},
		{`signum(-7)`, cty.NumberIntVal(-1)},
		{`log(8, 2)`, cty.NumberIntVal(3)},
		{`chomp("x\n")`, cty.StringVal("x")},
		{`format("%s-%03d", "vg", 7)`, cty.StringVal("vg-007")},
		{`formatlist("n%d", [1, 2])`, cty.ListVal([]cty.Value{cty.StringVal("n1"), cty.StringVal("n2")})},
		{`indent(2, "a\nb")`, cty.StringVal("a\n  b")},
		{`join(",", ["a", "b"])`, cty.StringVal("a,b")},
		{`"${upper("a")}${lower("B")}"`, cty.StringVal("Ab")},
		{`replace("a-b-c", "-", "+")`, cty.StringVal("a+b+c")},
		{`replace("node-18", "/node-(\\d+)/", "v$1")`, cty.StringVal("v18")},
		{`regex("[a-z]+", "123abc")`, cty.StringVal("abc")},
		{`length(regexall("a", "banana"))`, cty.NumberIntVal(3)},
		{`split("/", "a/b")`, cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`strrev("abc")`, cty.StringVal("cba")},
		{`substr("runner", 0, 3)`, cty.StringVal("run")},
		{`title("cache pool")`, cty.StringVal("Cache Pool")},
		{`trim("--x--", "-")`, cty.StringVal("x")},
		{`trimprefix("rigplan:x", "rigplan:")`, cty.StringVal("x")},
		{`trimsuffix("a.hcl", ".hcl")`, cty.StringVal("a")},
		{`trimspace("  x ")`, cty.StringVal("x")},
		{`alltrue([true, true])`, cty.True},
		{`alltrue([])`, cty.True},
		{`alltrue([true, false])`, cty.False},
		{`anytrue([false, true])`, cty.True},
		{`anytrue([])`, cty.False},
		{`length(chunklist([1, 2, 3], 2))`, cty.NumberIntVal(2)},
		{`coalesce("", "b")`, cty.StringVal("b")},
		{`coalesce(null, 2, 3)`, cty.NumberIntVal(2)},
		{`coalesce(1, "x")`, cty.StringVal("1")},
		{`coalescelist([], ["x"])`, cty.TupleVal([]cty.Value{cty.StringVal("x")})},
		{`compact(["a", "", "b"])`, cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`length(concat([1], [2, 3]))`, cty.NumberIntVal(3)},
		{`contains(["a", "b"], "b")`, cty.True},
		{`length(distinct([1, 1, 2]))`, cty.NumberIntVal(2)},
		{`element(["a", "b"], 3)`, cty.StringVal("b")},
		{`length(flatten([[1], [2, [3]]]))`, cty.NumberIntVal(3)},
		{`index(["a", "b", "c"], "c")`, cty.NumberIntVal(2)},
		{`keys({b = 1, a = 2})`, cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`length("héllo")`, cty.NumberIntVal(5)},
		{`length({a = 1, b = 2})`, cty.NumberIntVal(2)},
		{`length([1, "x"])`, cty.NumberIntVal(2)},
		{`lookup({a = "x"}, "b", "dflt")`, cty.StringVal("dflt")},
		{`merge({a = 1}, {a = 2})["a"]`, cty.NumberIntVal(2)},
		{`length(range(3))`, cty.NumberIntVal(3)},
		{`reverse([1, 2])[0]`, cty.NumberIntVal(2)},
		{`length(setintersection(["a", "b"], ["b"]))`, cty.NumberIntVal(1)},
		{`length(setproduct(["a", "b"], ["x", "y"]))`, cty.NumberIntVal(4)},
		{`length(setsubtract(["a", "b"], ["b"]))`, cty.NumberIntVal(1)},
		{`length(setunion(["a"], ["b"]))`, cty.NumberIntVal(2)},
		{`slice(["a", "b", "c"], 1, 2)`, cty.TupleVal([]cty.Value{cty.StringVal("b")})},
		{`sort(["b", "a"])[0]`, cty.StringVal("a")},
		{`sum([1, 2.5, 3])`, cty.NumberFloatVal(6.5)},
		{`sum(toset([1, 2]))`, cty.NumberIntVal(3)},
		{`transpose({a = ["x", "y"], b = ["x"]})["x"]`, cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`values({a = 1, b = 2})[1]`, cty.NumberIntVal(2)},
		{`zipmap(["a"], [1])["a"]`, cty.NumberIntVal(1)},
		{`csvdecode("a,b\n1,2\n")[0]["b"]`, cty.StringVal("2")},
		{`jsondecode("{\"a\": [1]}")["a"][0]`, cty.NumberIntVal(1)},
		{`jsonencode({a = true})`, cty.StringVal(`{"a":true}`)},
		{`tobool("true")`, cty.True},
		{`length(tolist(["a"]))`, cty.NumberIntVal(1)},
		{`tomap({a = "x"})["a"]`, cty.StringVal("x")},
		{`tonumber("12")`, cty.NumberIntVal(12)},
		{`length(toset(["a", "a"]))`, cty.NumberIntVal(1)},
		{`tostring(12)`, cty.StringVal("12")},
		{`formatdate("YYYY-MM-DD", "2024-03-05T10:00:00Z")`, cty.StringVal("2024-03-05")},
		{`timeadd("2024-03-05T10:00:00Z", "90m")`, cty.StringVal("2024-03-05T11:30:00Z")},
		{`try(jsondecode("{"), "fallback")`, cty.StringVal("fallback")},
		{`can(tonumber("x"))`, cty.False},
		{`base64encode("rigplan")`, cty.StringVal("cmlncGxhbg==")},
		{`base64decode("cmlncGxhbg==")`, cty.StringVal("rigplan")},
		// Reference digests from coreutils: printf rigplan | sha256sum etc.
		{`sha256("rigplan")`, cty.StringVal("e90df8626287667cc2276dad77255434aab7b5425c18779db9a1d4a59b31d5cb")},
		{`sha1("abc")`, cty.StringVal("a9993e364706816aba3e25717850c26c9cd0d89d")},
		{`md5("abc")`, cty.StringVal("900150983cd24fb0d6963f7d28e17f72")},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, diags := evalExpr(t, t.TempDir(), tt.expr)
			if diags.HasErrors() {
				t.Fatalf("unexpected error: %s", diags.Error())
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFunctionsErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{`length(true)`, "must be a string, a collection or a structural type"},
		{`index(["a"], "z")`, "not found"},
		{`index(toset(["a"]), "a")`, "must be a list or tuple"},
		{`sum([])`, "cannot sum an empty list"},
		{`coalesce("", null)`, "no non-null, non-empty argument"},
		{`sum(["a"])`, "must be a number"},
		{`replace("x", "/(/", "y")`, "invalid regular expression"},
		{`base64decode("!!")`, "not valid base64"},
		{`base64decode("/w==")`, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, diags := evalExpr(t, t.TempDir(), tt.expr)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("error %q does not say %q", diags.Error(), tt.want)
			}
		})
	}
}

// TestFunctionsUnknown checks that unknown inputs (values known only after
// apply) flow through instead of failing the plan.
func TestFunctionsUnknown(t *testing.T) {
	fn := Functions(t.TempDir())
	for _, name := range []string{"length", "sum", "alltrue", "anytrue"} {
		var arg cty.Value
		switch name {
		case "length", "sum":
			arg = cty.UnknownVal(cty.List(cty.Number))
		default:
			arg = cty.UnknownVal(cty.List(cty.Bool))
		}
		got, err := fn[name].Call([]cty.Value{arg})
		if err != nil {
			t.Fatalf("%s(unknown): %v", name, err)
		}
		if got.IsKnown() {
			t.Errorf("%s(unknown) = %#v, want an unknown value", name, got)
		}
	}
}
