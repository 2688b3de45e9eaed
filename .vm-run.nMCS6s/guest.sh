#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
cd /work/wt-operate || exit 125
(env HULL_BIN=/work/wt-operate/target/release/hull scripts/cgroupv2-tests.sh /work/wt-operate/build/operate-v2-tests.txt ) >/work/wt-operate/.vm-run.nMCS6s/out 2>&1 </dev/null
echo $? >/work/wt-operate/.vm-run.nMCS6s/status.tmp && mv /work/wt-operate/.vm-run.nMCS6s/status.tmp /work/wt-operate/.vm-run.nMCS6s/status
