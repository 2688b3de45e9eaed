#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
cd /work/wt-operate || exit 125
(scripts/cgroupv2-tests.sh build/operate-v2.txt ) >/work/wt-operate/.vm-run.312URf/out 2>&1 </dev/null
echo $? >/work/wt-operate/.vm-run.312URf/status.tmp && mv /work/wt-operate/.vm-run.312URf/status.tmp /work/wt-operate/.vm-run.312URf/status
