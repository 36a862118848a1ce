package github

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/schema"
)

// typeRunner is the resource type this provider implements.
const typeRunner = "runner"

func runnerSchema() *schema.Resource {
	str := func(name, desc string, v ...schema.Validator) *schema.Attribute {
		return &schema.Attribute{Name: name, Type: cty.String, Optional: true, Description: desc, Validators: v}
	}
	list := func(name, desc string) *schema.Attribute {
		return &schema.Attribute{Name: name, Type: cty.List(cty.String), Required: true, Description: desc}
	}
	boolean := func(name string, def bool, desc string) *schema.Attribute {
		return &schema.Attribute{Name: name, Type: cty.Bool, Optional: true, Default: cty.BoolVal(def), Description: desc}
	}
	return &schema.Resource{
		Type: typeRunner,
		Description: "A GitHub Actions runner registration policy: which machines run runners for which repository, " +
			"organization or enterprise, with which labels. rigplan writes it to `/etc/rigplan/runners/NAME.json` for the " +
			"cache agent, which hands each machine a just-in-time config at boot; the credentials stay on the host.",
		Attributes: []*schema.Attribute{
			str("repository", "Register repository runners: `OWNER/REPO`. Exactly one of repository, organization, enterprise."),
			str("organization", "Register organization runners: the organization's login."),
			str("enterprise", "Register enterprise runners: the enterprise's slug (a token only: GitHub Apps cannot manage them)."),
			list("labels", "Custom labels of the runners (1 to 99: rigplan adds its own, `rigplan.runner.NAME`)."),
			{Name: "runner_group", Type: cty.String, Optional: true, Default: cty.StringVal("Default"),
				Description: "The runner group (organizations and enterprises); repository runners are always in Default."},
			{Name: "name_prefix", Type: cty.String, Optional: true, Default: cty.StringVal(""),
				Description: "Runners are named `[PREFIX-]MACHINE-BOOT`, BOOT the first 8 digits of the machine's boot (its unit's InvocationID).",
				Validators:  []schema.Validator{namePrefixValidator}},
			boolean("ephemeral", true, "One job per runner: a just-in-time config (always ephemeral). False hands out registration tokens for `config.sh` instead."),
			boolean("disable_update", true, "The runner must not update itself (`--disableupdate`): the image decides its version."),
			str("min_version", "Oldest runner version accepted, e.g. `2.321.0`: older runners show as drift and apply removes them.", versionValidator),
			list("machines", "The machines whose runners this registers: write `machine.NAME.name`."),
			str("token_file", "A file on the host holding a token with admin rights on the scope. Never the token itself. Give either this or an `app` block.", pathValidator),
			{Name: "api_url", Type: cty.String, Optional: true, Default: cty.StringVal(ghapi.DefaultURL),
				Description: "GitHub's REST API: `https://HOST/api/v3/` for GitHub Enterprise Server."},

			{Name: "label", Type: cty.String, Computed: true, Description: "rigplan's label on these runners, `rigplan.runner.NAME`."},
			{Name: "config_file", Type: cty.String, Computed: true, Description: "`/etc/rigplan/runners/NAME.json`."},
			{Name: "orphans", Type: cty.List(cty.String), Computed: true,
				Description: "Offline runners with rigplan's label and no running machine boot behind them; apply deletes them."},
			{Name: "outdated", Type: cty.List(cty.String), Computed: true,
				Description: "Runners older than min_version; apply deletes those not running a job."},
		},
		Blocks: []*schema.Block{{
			Name: "app", Nesting: schema.NestingSingle,
			Description: "Authenticate as a GitHub App's installation instead of with a token file.",
			Attributes: []*schema.Attribute{
				{Name: "id", Type: cty.Number, Required: true, Description: "The App's ID (its settings page)."},
				{Name: "installation_id", Type: cty.Number, Required: true, Description: "The installation's ID (the number at the end of its settings URL)."},
				{Name: "private_key_file", Type: cty.String, Required: true, Description: "The App's private key (.pem) on the host. Never the key itself.",
					Validators: []schema.Validator{pathValidator}},
			},
		}},
		Validate: validateRunner,
	}
}
