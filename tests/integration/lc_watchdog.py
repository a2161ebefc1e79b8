#!/usr/bin/env python3
"""A test killed with SIGKILL (what a ctest timeout does: no finally, no
atexit) leaves no local cloud behind: lctest.Cloud.up starts a watcher that
runs `kiln cloud down` once the test's process is gone, holding the range's
lock until then. A child process takes the range, starts a cloud and kills
itself with SIGKILL; within 60 s the cloud's bridge and processes must be
gone and the range's lock free. Fails with a watcher that does nothing.
Port 4636, 10.214.26.0/24. Exit 77 when not root or without botocore.
"""
import fcntl
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT, CIDR, THIRD = 4636, "10.214.26.0/24", "26"
CHILD = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import lctest
c = lctest.Cloud(lctest.Results(), int(sys.argv[2]), sys.argv[3])
if not c.take_range(1800) or not c.up():
    sys.exit(3)
print(c.tmp, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def main():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    r = lctest.Results()
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
    p = subprocess.run([sys.executable, "-c", CHILD, fixtures, str(PORT), CIDR],
                       capture_output=True, text=True, timeout=300)
    tmp = (p.stdout.strip().splitlines() or [""])[-1]  # its last line: the cloud's directory
    if not r.check("the child started a cloud and was killed", p.returncode == -9 and tmp,
                   "%d %s %s" % (p.returncode, p.stdout, p.stderr[-800:])):
        return r.finish()
    gateway = " 10.214.%s.1/" % THIRD
    left = ""
    for _ in range(120):
        addrs = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True,
                               text=True).stdout
        procs = subprocess.run(["pgrep", "-af", tmp], capture_output=True, text=True).stdout
        left = (addrs if gateway in addrs else "") + procs
        if not left.strip():
            break
        time.sleep(0.5)
    if not r.check("the cloud of the killed test is down (no bridge, no process)",
                   not left.strip(), left[-600:]):
        down = subprocess.run([os.environ["KILN_BIN"], "cloud", "down", "--state-dir",
                              os.path.join(tmp, "state")], capture_output=True, text=True,
                              timeout=300)
        print("kiln cloud down: %d %s" % (down.returncode, down.stderr[-500:]))
    with open("/tmp/kiln-test-net-10.214.%s.lock" % THIRD, "w") as lock:
        free = False
        for _ in range(40):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free = True
                break
            except BlockingIOError:
                time.sleep(0.5)
        r.check("the range's lock is free once the cloud is down", free)
    # The killed child could not remove its directory: this test does.
    if tmp.startswith("/tmp/kiln-lctest-"):
        subprocess.run(["rm", "-rf", "--one-file-system", tmp], check=False)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
