package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
)

// runnerIdentity answers runner-config and registration-token: the
// machine's runner registered on GitHub with the policy of the runner
// block that lists it, with the credentials the agent reads on the host.
// Nothing secret but the answer itself reaches the machine.
//
// runner-config answers `ok ENCODED-JIT-CONFIG NAME`, for `run.sh
// --jitconfig`. registration-token answers `ok TOKEN URL NAME LABELS
// GROUP FLAGS` for config.sh (--url, --token, --name, --labels,
// --runnergroup, and FLAGS such as --ephemeral --disableupdate).
func (a *Agent) runnerIdentity(ctx context.Context, c *call, m inject.Machine) *protocol.Response {
	all, _, err := runnerconf.ReadAll(a.cfg.RunnersRoot)
	if err != nil {
		return c.internal("reading the runner policies", err)
	}
	pol, ok := runnerconf.ForMachine(all, m.Name)
	if !ok {
		return protocol.Fail(fmt.Sprintf("no runner block lists machine %s: add it to a runner block's machines and apply on the host", m.Name))
	}
	name := runnerconf.RunnerName(pol.NamePrefix, m.Name, bootID(m))
	cl, err := a.runners.Get(ghapi.Options{URL: pol.URL, Auth: pol.Auth})
	if err != nil {
		return c.internal("reading the GitHub credentials of "+pol.Address, err)
	}
	switch c.req.Command {
	case protocol.CommandRunnerConfig:
		if !pol.Ephemeral {
			return protocol.Fail(fmt.Sprintf("%s is not ephemeral: just-in-time configs are; ask for registration-token", pol.Address))
		}
		gid, err := cl.RunnerGroupID(ctx, pol.Scope, pol.Group)
		if err != nil {
			return c.github("finding the runner group", err)
		}
		jit, err := cl.GenerateJITConfig(ctx, pol.Scope, ghapi.JITRequest{Name: name, GroupID: gid, Labels: pol.Labels})
		if err != nil {
			return c.github("generating a just-in-time runner config", err)
		}
		c.log.Info("runner registered", "runner", name, "scope", pol.Scope.String(), "id", jit.Runner.ID)
		return protocol.OK(jit.Encoded, name)
	default:
		tok, err := cl.RegistrationToken(ctx, pol.Scope)
		if err != nil {
			return c.github("creating a registration token", err)
		}
		var flags []string
		if pol.Ephemeral {
			flags = append(flags, "--ephemeral")
		}
		if pol.DisableUpdate {
			flags = append(flags, "--disableupdate")
		}
		return protocol.OK(tok.Token, scopeURL(pol), name, strings.Join(pol.Labels, ","), pol.Group, strings.Join(flags, " "))
	}
}

// github answers a failed GitHub call: the reason GitHub gave, for the
// machine's log, and the whole explanation in the agent's.
func (c *call) github(what string, err error) *protocol.Response {
	c.log.Error(what+" failed", "err", err)
	reason := "GitHub could not be reached"
	var e *ghapi.Error
	if errors.As(err, &e) && e.Status != 0 {
		reason = fmt.Sprintf("GitHub answered %d %s", e.Status, e.Message)
	}
	return protocol.Fail(fmt.Sprintf("%s failed: %s (request %d); the host's operator finds what to fix in the agent's log", what, reason, c.id))
}

// bootID is the machine's current boot: the InvocationID systemd put on
// its unit's cgroup, or, where systemd did not start the machine, the
// start time of its leader.
func bootID(m inject.Machine) string {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join("/sys/fs/cgroup", m.Cgroup), "trusted.invocation_id", buf)
	if err == nil && n == 32 {
		return string(buf[:n])
	}
	return fmt.Sprintf("%08x", m.LeaderStart)
}

// scopeURL is config.sh's --url for the policy's scope.
func scopeURL(p runnerconf.Config) string {
	web := "https://github.com"
	if u := strings.TrimSuffix(p.URL, "/"); u != "" && u != strings.TrimSuffix(ghapi.DefaultURL, "/") {
		web = strings.TrimSuffix(u, "/api/v3")
	}
	switch p.Scope.Kind {
	case ghapi.Organization:
		return web + "/" + p.Scope.Name
	case ghapi.Enterprise:
		return web + "/enterprises/" + p.Scope.Name
	}
	return web + "/" + p.Scope.Name
}
