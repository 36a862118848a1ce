#!/bin/sh
# A scripted stand-in for systemctl and journalctl, for tests on machines
# where systemd is not PID 1. It is not systemd: it keeps just enough
# state in files to answer the calls internal/systemd makes, the way
# systemd 252 answers them (messages and exit statuses included):
#
#   STATE/calls           every call, one line each ("systemctl start -- u")
#   STATE/U.loaded        the sha256 of unit U's file when it was loaded
#   STATE/U.active        U's ActiveState when it is not inactive
#   STATE/U.invocation    U's InvocationID, new at each start
#   STATE/U.enabled       present when U is enabled
#   STATE/fail-start      present: start and restart fail (U turns failed)
#   STATE/journal         what journalctl prints
#   STATE/down            present: every call fails as without systemd
#
# An instance unit (a@i.service) without a file of its own is loaded from
# its template, a@.service, in ROOT/etc/systemd/system or
# ROOT/lib/systemd/system.
#
# A unit file is loaded on demand (as systemd loads a unit a call names)
# and again by daemon-reload; NeedDaemonReload says whether the file on
# disk changed since.
ROOT=@ROOT@
STATE=@STATE@
UNITS="$ROOT/etc/systemd/system"

prog=$(basename "$0")
echo "$prog $*" >>"$STATE/calls"

if [ -e "$STATE/down" ]; then
	echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
	echo "Failed to connect to bus: Host is down" >&2
	exit 1
fi

if [ "$prog" = journalctl ]; then
	if [ -e "$STATE/journal" ]; then cat "$STATE/journal"; fi
	exit 0
fi

verb=$1
shift
units=
for a in "$@"; do
	case $a in
	--) ;;
	--quiet | --property=*) ;;
	-*) echo "systemctl stand-in: unknown option $a" >&2; exit 1 ;;
	*) units="$units $a" ;;
	esac
done

sum() { sha256sum "$1" | cut -d' ' -f1; }

# file U: U's unit file, or for an instance (a@i.service) its template
# a@.service in $UNITS or $ROOT/lib/systemd/system; empty when none.
file() {
	if [ -e "$UNITS/$1" ]; then echo "$UNITS/$1"; return; fi
	case $1 in
	*@*.*)
		t="${1%%@*}@.${1##*.}"
		for d in "$UNITS" "$ROOT/lib/systemd/system"; do
			if [ -e "$d/$t" ]; then echo "$d/$t"; return; fi
		done
		;;
	esac
}

# load U: on demand, as systemd does for a unit a call names.
load() {
	f=$(file "$1")
	if [ ! -e "$STATE/$1.loaded" ] && [ -n "$f" ]; then
		sum "$f" >"$STATE/$1.loaded"
	fi
	[ -e "$STATE/$1.loaded" ]
}

case $verb in
daemon-reload)
	rm -f "$STATE"/*.loaded
	for f in "$UNITS"/*.service; do
		if [ -e "$f" ]; then sum "$f" >"$STATE/$(basename "$f").loaded"; fi
	done
	;;
show)
	first=1
	for u in $units; do
		[ $first = 1 ] || echo
		first=0
		echo "Id=$u"
		if load "$u"; then
			echo "LoadState=loaded"
			f=$(file "$u")
			echo "FragmentPath=${f#"$ROOT"}"
		else
			echo "LoadState=not-found"
			echo "FragmentPath="
		fi
		if [ -e "$STATE/$u.active" ]; then
			echo "ActiveState=$(cat "$STATE/$u.active")"
			echo "InvocationID=$(cat "$STATE/$u.invocation" 2>/dev/null)"
			echo "SubState=running"
		else
			echo "ActiveState=inactive"
			echo "SubState=dead"
			echo "InvocationID="
		fi
		dropins=
		for d in "$UNITS/$u.d"/*.conf; do
			if [ -e "$d" ]; then dropins="$dropins /etc/systemd/system/$u.d/$(basename "$d")"; fi
		done
		echo "DropInPaths=${dropins# }"
		f=$(file "$u")
		if [ -z "$f" ]; then
			echo "UnitFileState="
		elif [ -e "$STATE/$u.enabled" ]; then
			echo "UnitFileState=enabled"
		else
			echo "UnitFileState=disabled"
		fi
		if [ -n "$f" ] && [ -e "$STATE/$u.loaded" ] && [ "$(sum "$f")" != "$(cat "$STATE/$u.loaded")" ]; then
			echo "NeedDaemonReload=yes"
		else
			echo "NeedDaemonReload=no"
		fi
	done
	;;
enable)
	for u in $units; do
		if [ -z "$(file "$u")" ]; then
			echo "Failed to enable unit: Unit file $u does not exist." >&2
			exit 1
		fi
		load "$u"
		: >"$STATE/$u.enabled"
	done
	;;
disable)
	for u in $units; do rm -f "$STATE/$u.enabled"; done
	;;
start | restart)
	for u in $units; do
		if ! load "$u"; then
			echo "Failed to $verb $u: Unit $u not found." >&2
			exit 5
		fi
		if [ -e "$STATE/fail-start" ]; then
			echo failed >"$STATE/$u.active"
			echo "Job for $u failed because the control process exited with error code." >&2
			echo "See \"systemctl status $u\" and \"journalctl -xeu $u\" for details." >&2
			exit 1
		fi
		echo active >"$STATE/$u.active"
		tr -d '-' </proc/sys/kernel/random/uuid >"$STATE/$u.invocation"
	done
	;;
stop)
	for u in $units; do
		if ! load "$u"; then
			echo "Failed to stop $u: Unit $u not loaded." >&2
			exit 5
		fi
		rm -f "$STATE/$u.active"
	done
	;;
*)
	echo "Unknown command verb $verb." >&2
	exit 1
	;;
esac
