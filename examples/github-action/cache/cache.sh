#!/bin/sh
# The rigplan cache action's step: ask the host's cache agent for a
# cache mounted at a path (mount), or to seal a copy of it now (save).
# See README.md. POSIX sh; needs ncat (or the rigplan client) in the
# machine and the agent's socket bound into it.
#
# Everything comes from the environment (action.yml maps the inputs;
# nothing is ever pasted into shell code):
#
#   CACHE_PATH            where the cache is mounted (absolute)
#   CACHE_KEY             the terms of the exact key, e.g. "npm linux 5f3a..."
#   CACHE_RESTORE_KEYS    more criteria, one per line, tried in order
#   CACHE_SOCKET          the agent's socket (default /run/rigplan-cache/socket)
#   CACHE_SAVE            "true": save instead of mount
#   CACHE_DEFAULT_BRANCH  the repository's default branch (may be empty)
#   CACHE_CLIENT          auto (ncat, else rigplan), ncat or rigplan
#   GITHUB_HEAD_REF, GITHUB_BASE_REF, GITHUB_REF_NAME, GITHUB_OUTPUT
#     as GitHub Actions sets them
#
# Exits 1, with an ::error:: annotation giving the agent's reason, when
# the agent answers error or cannot be reached.
set -eu

nl='
'
tab=$(printf '\t')
socket=${CACHE_SOCKET:-/run/rigplan-cache/socket}
path=${CACHE_PATH:-}
save=${CACHE_SAVE:-false}

fail() {
	# Workflow command data: % and line breaks must be escaped.
	msg=$(printf '%s' "$*" | sed 's/%/%25/g' | tr '\n' ' ')
	printf '::error title=rigplan cache::%s\n' "$msg"
	exit 1
}

output() {
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
	fi
}

# words prints its argument's terms (split at spaces, tabs and line
# breaks, never globbed) joined by single spaces.
words() {
	set -f
	# shellcheck disable=SC2086 # splitting is the point
	set -- $1
	set +f
	printf '%s' "$*"
}

case $save in
true | false) ;;
*) fail "save is \"$save\": want true or false" ;;
esac
[ -n "$path" ] || fail "no path: give the absolute path to mount the cache at, e.g. /home/runner/cache"
case ${CACHE_KEY:-} in
*"$nl"*) fail "the key is more than one line: give its terms on one line; restore-keys takes one criterion per line" ;;
esac
key=$(words "${CACHE_KEY:-}")
[ -n "$key" ] || fail "no key: give the terms that name this cache exactly, e.g. \"npm linux \${{ hashFiles('package-lock.json') }}\""

# The branches whose caches this job may start from, its own first:
# a pull request's head branch (else the ref's), then the branch it
# targets, then the default branch. Like actions/cache, a job never
# starts from another feature branch's cache.
branch=${GITHUB_HEAD_REF:-${GITHUB_REF_NAME:-}}
branches=
for b in "$branch" "${GITHUB_BASE_REF:-}" "${CACHE_DEFAULT_BRANCH:-}"; do
	b=$(words "$b")
	[ -n "$b" ] || continue
	case " $branches " in
	*" $b "*) ;;
	*) branches="$branches $b" ;;
	esac
done
own=
[ -z "$branch" ] || own=" branch:$(words "$branch")"

# The request: one criterion per key and branch, the exact key first,
# branch by branch (as actions/cache searches); the new snapshot is
# annotated with the key and the job's own branch.
if [ "$save" = true ]; then
	request="save $path$nl< $key$own$nl"
else
	keys=$key
	while IFS= read -r line; do
		line=$(words "$line")
		[ -z "$line" ] || keys="$keys$nl$line"
	done <<EOF
${CACHE_RESTORE_KEYS:-}
EOF
	criteria= n=0
	set -f
	# "-" stands for no branch at all (outside GitHub Actions); no git
	# branch can be named so.
	for b in ${branches:--}; do
		[ "$b" != - ] || b=
		while IFS= read -r k; do
			if [ -n "$b" ]; then
				criteria="$criteria> $k branch:$b$nl"
			else
				criteria="$criteria> $k$nl"
			fi
			n=$((n + 1))
		done <<EOF
$keys
EOF
	done
	set +f
	[ "$n" -le 32 ] || fail "$n criteria (keys times branches), over the agent's limit of 32: give fewer restore-keys"
	request="mount $path$nl$criteria< $key$own$nl"
fi

client=${CACHE_CLIENT:-auto}
if [ "$client" = auto ]; then
	if command -v ncat >/dev/null 2>&1; then
		client=ncat
	elif command -v rigplan >/dev/null 2>&1; then
		client=rigplan
	else
		fail "neither ncat nor rigplan is installed in this machine: add ncat (Debian package ncat) to its image"
	fi
fi

case $client in
ncat)
	# ncat ends the request by closing its side when the input ends,
	# prints the agent's one-line answer and exits when the agent
	# closes. It may report a reset after the answer; the answer counts.
	status=0
	answer=$(printf '%s' "$request" | ncat -U "$socket") || status=$?
	answer=$(printf '%s\n' "$answer" | tail -n 1)
	case $answer in
	"ok$tab"*) ;;
	"error$tab"*) fail "the cache agent refused: ${answer#error"$tab"}" ;;
	*) fail "no answer from the cache agent at $socket (ncat exited with status $status): is the agent running, and its socket's directory bound into this machine?" ;;
	esac
	# ok PATH CRITERION SNAPSHOT (mount) or ok PATH SNAPSHOT (save)
	rest=${answer#ok"$tab"}
	rest=${rest#*"$tab"}
	if [ "$save" = true ]; then
		snapshot=$rest
	else
		matched=${rest%"$tab"*}
		snapshot=${rest##*"$tab"}
	fi
	;;
rigplan)
	set -f
	set -- --socket "$socket"
	if [ "$save" = true ]; then
		set -- cache save "$path" "$@" --annotate "$key$own"
	else
		set -- cache mount "$path" "$@" --annotate "$key$own"
		while IFS= read -r c; do
			[ -z "$c" ] || set -- "$@" --criteria "${c#> }"
		done <<EOF
$criteria
EOF
	fi
	set +f
	status=0
	said=$(rigplan "$@" 2>&1) || status=$?
	[ "$status" -eq 0 ] || fail "rigplan cache $2 failed (status $status): $said"
	printf '%s\n' "$said"
	# "Mounted snapshot NAME at PATH, a copy of the default volume ..."
	# or "... a copy of the newest cache matching "> CRITERION"."
	# "Saved the cache at PATH as snapshot NAME."
	if [ "$save" = true ]; then
		snapshot=${said##* }
		snapshot=${snapshot%.}
	else
		snapshot=$(printf '%s' "$said" | sed -n 's/^Mounted snapshot \([^ ]*\) at .*/\1/p')
		case $said in
		*"a copy of the default volume"*) matched=default ;;
		*) matched=$(printf '%s' "$said" | sed -n 's/.* matching "\(.*\)"\.$/\1/p') ;;
		esac
	fi
	;;
*)
	fail "client is \"$client\": want auto, ncat or rigplan"
	;;
esac

output snapshot "$snapshot"
if [ "$save" = true ]; then
	echo "Saved the cache at $path as snapshot $snapshot."
	exit 0
fi
# A hit is the exact key, from whichever branch: the job may skip the
# install its key stands for.
hit=false
case "$matched$nl" in
"> $key$nl" | "> $key branch:"*) hit=true ;;
esac
output cache-hit "$hit"
output matched "$matched"
if [ "$client" = ncat ]; then
	if [ "$matched" = default ]; then
		echo "Mounted snapshot $snapshot at $path, a copy of the default volume (no criterion matched)."
	else
		echo "Mounted snapshot $snapshot at $path, a copy of the newest cache matching \"$matched\"."
	fi
fi
