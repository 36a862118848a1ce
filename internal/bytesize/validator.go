package bytesize

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// Validator is the schema validator for a size attribute: the value must
// parse and be at least min bytes (min <= 0 means "more than zero").
func Validator(min int64) schema.Validator {
	desc := `a size such as "30G", "512MiB" or "100GB"`
	if min > 0 {
		desc += fmt.Sprintf(", at least %s", Format(min))
	}
	return schema.Validator{
		Description: desc,
		Check: func(v cty.Value) error {
			if !v.Type().Equals(cty.String) {
				return fmt.Errorf("a size must be a string such as \"30G\"")
			}
			n, err := Parse(v.AsString())
			if err != nil {
				return err
			}
			switch {
			case min > 0 && n < min:
				return fmt.Errorf("%q is too small: the minimum is %s", v.AsString(), Format(min))
			case n <= 0:
				return fmt.Errorf("%q is not a positive size", v.AsString())
			}
			return nil
		},
	}
}
