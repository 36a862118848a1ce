#!/bin/bash
# The demo `make demo` runs inside the sandbox kernel: rigplan brings an
# empty scratch disk to the storage of the original hand-built runner host
# (examples/lvm-cache), then shows that a second plan has nothing to do.
# The sandbox kernel runs no systemd, so the example's cache agent (a
# systemd service) is left out with -target: the default volume and what
# it depends on, the pool and the volume group.
set -euo pipefail

rigplan=${RIGPLAN:-bin/rigplan}
cfg=examples/lvm-cache
# The example takes its disks as a variable; in the sandbox that is the
# first scratch disk.
export RIGPLAN_VAR_devices='["/dev/ubda"]'
export RIGPLAN_LOCK_FILE=/run/rigplan/lock
storage=-target=volume.default

step() { printf '\n\033[1m==> %s\033[0m\n\n' "$*"; }

step "rigplan validate $cfg   (checks the files; never touches the host)"
"$rigplan" validate "$cfg"

step "rigplan plan $storage $cfg   (an empty disk: everything is to be created)"
"$rigplan" plan "$storage" "$cfg"

step "rigplan apply -auto-approve $storage $cfg"
"$rigplan" apply -auto-approve "$storage" "$cfg"

step "rigplan plan -detailed-exitcode $storage $cfg   (exit 0: the host matches)"
"$rigplan" plan -detailed-exitcode "$storage" "$cfg"
echo "exit status: $?"

step "what LVM now holds (lvs), each object tagged with its rigplan address"
lvs -o lv_name,vg_name,lv_size,pool_lv,lv_tags
