#!/bin/bash
# The demo `make demo` runs inside the sandbox kernel: rigplan brings an
# empty scratch disk to the storage of the original hand-built runner host
# (examples/lvm-cache), then shows that a second plan has nothing to do.
set -euo pipefail

rigplan=${RIGPLAN:-bin/rigplan}
cfg=examples/lvm-cache
# The example takes its disks as a variable; in the sandbox that is the
# first scratch disk.
export RIGPLAN_VAR_devices='["/dev/ubda"]'
export RIGPLAN_LOCK_FILE=/run/rigplan/lock

step() { printf '\n\033[1m==> %s\033[0m\n\n' "$*"; }

step "rigplan validate $cfg   (checks the files; never touches the host)"
"$rigplan" validate "$cfg"

step "rigplan plan $cfg   (an empty disk: everything is to be created)"
"$rigplan" plan "$cfg"

step "rigplan apply -auto-approve $cfg"
"$rigplan" apply -auto-approve "$cfg"

step "rigplan plan -detailed-exitcode $cfg   (exit 0: the host matches)"
"$rigplan" plan -detailed-exitcode "$cfg"
echo "exit status: $?"

step "what LVM now holds (lvs), each object tagged with its rigplan address"
lvs -o lv_name,vg_name,lv_size,pool_lv,lv_tags
