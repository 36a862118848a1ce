// Package schema loads a rigplan configuration: it parses the *.hcl files of
// a directory, splits variables, locals, outputs and resource blocks, resolves
// references, and decodes resource bodies against the schemas providers
// declare (see Resource), keeping a source range on everything so that every
// error points at the text that caused it.
//
// Evaluation order is not decided here: the planner walks the dependency
// graph built from References and fills a Scope as it goes.
package schema
