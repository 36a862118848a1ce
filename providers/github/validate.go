package github

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// maxLabels is GitHub's limit of custom labels per runner, less the one
// rigplan adds.
const maxLabels = 100 - 1

var (
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	prefixRE  = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})?$`)
	// secretRE matches what GitHub's tokens and PEM keys look like.
	secretRE = regexp.MustCompile(`\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----`)
)

var (
	versionValidator = schema.StringValidator("a runner version such as 2.321.0", func(s string) error {
		if !versionRE.MatchString(s) {
			return fmt.Errorf("%q is not a runner version: write MAJOR.MINOR.PATCH, such as 2.321.0", s)
		}
		return nil
	})
	namePrefixValidator = schema.StringValidator("letters, digits, `.`, `_` and `-`, at most 32", func(s string) error {
		if !prefixRE.MatchString(s) {
			return fmt.Errorf("%q: a name prefix is up to 32 letters, digits, `.`, `_` or `-`, starting with a letter or digit", s)
		}
		return nil
	})
	pathValidator = schema.StringValidator("an absolute path on the host", func(s string) error {
		if secretRE.MatchString(s) {
			return fmt.Errorf("this looks like a secret itself, not a file's path: put it in a file readable only by root and write the file's path here (then revoke it: it is in your git history)")
		}
		if !strings.HasPrefix(s, "/") || path.Clean(s) != s {
			return fmt.Errorf("%q is not an absolute, clean path, such as /etc/rigplan/github-token", s)
		}
		return nil
	})
)

// validateRunner checks the rules that span attributes: one scope, one
// way to authenticate, the labels GitHub accepts, and secrets written
// where a path belongs.
func validateRunner(config cty.Value) []*schema.Problem {
	var out []*schema.Problem
	problem := func(attr, summary, format string, args ...any) {
		p := &schema.Problem{Summary: summary, Detail: fmt.Sprintf(format, args...)}
		if attr != "" {
			p.Path = cty.GetAttrPath(attr)
		}
		out = append(out, p)
	}
	known := func(name string) (cty.Value, bool) {
		v := config.GetAttr(name)
		return v, v.IsKnown() && !v.IsNull()
	}

	var scopes []string
	allKnown := true
	for _, s := range []string{"repository", "organization", "enterprise"} {
		v := config.GetAttr(s)
		if !v.IsKnown() {
			allKnown = false
		} else if !v.IsNull() {
			scopes = append(scopes, s)
		}
	}
	switch {
	case allKnown && len(scopes) == 0:
		problem("", "Missing scope", "Say where the runners register: repository = \"OWNER/REPO\", organization = \"ORG\" or enterprise = \"SLUG\".")
	case len(scopes) > 1:
		problem(scopes[1], "Two scopes", "A runner block registers in one place, and sets %s and %s: keep one (a second block for the other).", scopes[0], scopes[1])
	}
	if r, ok := known("repository"); ok {
		owner, repo, found := strings.Cut(r.AsString(), "/")
		if !found || owner == "" || repo == "" || strings.Contains(repo, "/") {
			problem("repository", "Invalid repository", "%q is not OWNER/REPO, such as \"acme/widgets\".", r.AsString())
		}
		if g, ok := known("runner_group"); ok && !strings.EqualFold(g.AsString(), "Default") {
			problem("runner_group", "No runner groups for repositories", "Repository runners are always in the group Default; runner groups (%q) belong to organizations and enterprises. Remove runner_group.", g.AsString())
		}
	}

	app := config.GetAttr("app")
	_, hasToken := known("token_file")
	switch {
	case !app.IsKnown():
	case app.IsNull() && !hasToken && config.GetAttr("token_file").IsKnown():
		problem("", "Missing credentials", "Say how rigplan authenticates to GitHub: token_file = \"/etc/rigplan/github-token\" (a file only root can read), or an app block with the App's id, installation_id and private_key_file.")
	case !app.IsNull() && hasToken:
		problem("token_file", "Two kinds of credentials", "Use either token_file or the app block, not both.")
	}
	if _, ok := known("enterprise"); ok && app.IsKnown() && !app.IsNull() {
		problem("enterprise", "GitHub Apps cannot manage enterprise runners", "GitHub's enterprise runner endpoints do not accept App tokens: use token_file with a token that has the manage_runners:enterprise scope.")
	}

	if l, ok := known("labels"); ok {
		labels := l.AsValueSlice()
		switch {
		case len(labels) == 0:
			problem("labels", "No labels", "A runner needs at least one custom label for workflows to select it (runs-on).")
		case len(labels) > maxLabels:
			problem("labels", "Too many labels", "%d labels; GitHub takes 100 per runner, one of which is rigplan's: at most %d.", len(labels), maxLabels)
		}
		seen := map[string]bool{}
		for _, v := range labels {
			if !v.IsKnown() || v.IsNull() {
				continue
			}
			s := v.AsString()
			k := strings.ToLower(s)
			switch {
			case strings.TrimSpace(s) == "" || strings.ContainsAny(s, ",\n"):
				problem("labels", "Invalid label", "%q: labels are non-empty and hold no comma or newline.", s)
			case strings.HasPrefix(k, "rigplan.runner."):
				problem("labels", "Reserved label", "%q: labels starting with rigplan.runner. mark the runners rigplan registers; rigplan adds its own.", s)
			case seen[k]:
				problem("labels", "Duplicate label", "%q appears twice (GitHub compares labels without case).", s)
			}
			seen[k] = true
		}
	}
	if m, ok := known("machines"); ok && len(m.AsValueSlice()) == 0 {
		problem("machines", "No machines", "List the machines whose runners this registers: machines = [machine.NAME.name].")
	}
	out = append(out, secretWarnings(config)...)
	return out
}

// secretWarnings warns about strings of the block that look like a
// GitHub token or a private key: committed HCL is no place for them.
func secretWarnings(config cty.Value) []*schema.Problem {
	var out []*schema.Problem
	cty.Walk(config, func(p cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String && secretRE.MatchString(v.AsString()) && !isPathAttr(p) {
			out = append(out, &schema.Problem{Path: p, Warning: true, Summary: "Secret in the configuration",
				Detail: "This looks like a GitHub token or a private key written into the HCL, which is committed to git. Put it in a file only root can read, point token_file or app.private_key_file at it, and revoke this one."})
		}
		return true, nil
	})
	return out
}

// isPathAttr reports whether p is one of the path attributes, which
// pathValidator already refuses secrets in.
func isPathAttr(p cty.Path) bool {
	if len(p) == 0 {
		return false
	}
	if a, ok := p[len(p)-1].(cty.GetAttrStep); ok {
		return a.Name == "token_file" || a.Name == "private_key_file"
	}
	return false
}
