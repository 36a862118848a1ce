ncat -U /run/lvm-cache-friend/socket <<EOF
mount /home/ghrunner/cache
> linux dc5e8c
> linux
< linux dc5e8c
EOF
