#!/bin/sh
# The first init of rigplan's systemd test host, installed into the cached
# Debian root by testhost (see debroot.go): everything of a boot that is not
# in the cache is in the boot directory the harness names on the kernel
# command line. Mount it through hostfs and run the init script rendered
# there for this boot. Kept small and stable: changing it changes the
# recipe, and so builds a new root.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
dir=
for arg in $(cat /proc/cmdline); do
	case $arg in rigplan.testhost.dir=?*) dir=${arg#*=} ;; esac
done
mkdir -p /run/testhost/boot
if [ -n "$dir" ] && mount -t hostfs -o "$dir" none /run/testhost/boot; then
	exec /bin/sh /run/testhost/boot/init.sh
fi
echo "rigplan-testhost-init: cannot mount the boot directory '$dir' named by rigplan.testhost.dir= on the kernel command line; powering off"
echo o >/proc/sysrq-trigger
sleep 60
