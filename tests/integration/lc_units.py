#!/usr/bin/env python3
"""Instances that boot like EC2's (issue 12): an image whose OS layer enables
its services the systemd way serves in the local cloud. A builder's user data
writes the units and their links as `systemctl enable` makes them (nothing
starts them on the builder); the builder is imaged; an instance of the image
must then, from kiln's init alone:

- serve a Type=simple service run as its User= in its WorkingDirectory=, with
  Environment= (quoted), EnvironmentFile= (and a missing '-' one), ExecStart=
  quoting and ${VAR} expansion, from a unit in /etc/systemd/system;
- serve a Type=forking service (PIDFile= in its RuntimeDirectory=) from a
  unit in /lib/systemd/system that the wants-link points at, and a
  Type=exec one (the control service the test kills through);
- restart either (Restart=always) after its main process is killed (SIGKILL
  from inside the instance), with a new main process;
- not restart a Restart=on-failure service that exits 0, and restart one that
  fails until it succeeds;
- refuse a hostile unit (escape sequences in ExecStart=, a link named with
  an ESC), saying so on the console with the bytes escaped, no raw ESC there,
  while everything else serves; say why the base image's ssh.service and
  oneshot e2scrub_reap.service are not started;
- start the services again after a stop and start of the instance.

The test's own port and range (4624, 10.214.14.0/24); it reaches only the
cloud's endpoint and its instances; each wait has a bound. Exit 1 on any
failure, 77 to skip (not root, no botocore).
"""
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4624
CIDR = "10.214.14.0/24"
R = lctest.Results()

USER_DATA = r"""#!/bin/sh
set -eu
useradd --system --home-dir /srv/simple --no-create-home --shell /usr/sbin/nologin websvc
mkdir -p /srv/simple /srv/forking /srv/ctl/cgi-bin /etc/systemd/system/multi-user.target.wants
chown websvc: /srv/simple /srv/forking
printf '# read by simple.service\nFROMFILE="from the file"\nGREETING=overridden\n' > /etc/default/simple

cat > /usr/local/bin/svc-simple <<'EOF'
#!/bin/sh
echo "$(id -un)|$(pwd)|$GREETING|$FROMFILE|$1|$2|$HOME" > info
echo start >> starts
echo $$ > pid
exec busybox httpd -f -p 8081 -h /srv/simple
EOF
cat > /usr/local/bin/svc-forking <<'EOF'
#!/bin/sh
echo "$(id -un)|$(pwd)|$PORT" > /srv/forking/info
echo start >> /srv/forking/starts
busybox httpd -f -p "$PORT" -h /srv/forking &
echo $! > /run/forking/pid
EOF
chmod 0755 /usr/local/bin/svc-simple /usr/local/bin/svc-forking

cat > /etc/systemd/system/simple.service <<'EOF'
[Unit]
Description=simple service
After=network.target

[Service]
# a comment, then a continued line
Type=simple
User=websvc
WorkingDirectory=/srv/simple
Environment="GREETING=hello world" SECOND=two
EnvironmentFile=/etc/default/simple
EnvironmentFile=-/etc/default/no-such-file
ExecStart=/usr/local/bin/svc-simple \
    "first arg" ${SECOND}
Restart=always
RestartSec=500ms

[Install]
WantedBy=multi-user.target
EOF
cat > /lib/systemd/system/forking.service <<'EOF'
[Service]
Type=forking
User=websvc
RuntimeDirectory=forking
PIDFile=/run/forking/pid
WorkingDirectory=/srv/forking
Environment=PORT=8082
ExecStart=/usr/local/bin/svc-forking
Restart=always
RestartSec=200ms

[Install]
WantedBy=multi-user.target
EOF
cat > /etc/systemd/system/clean.service <<'EOF'
[Service]
ExecStart=/bin/sh -c 'echo ran >> /srv/ctl/clean.log'
Restart=on-failure
RestartSec=100ms
EOF
cat > /etc/systemd/system/failing.service <<'EOF'
[Service]
ExecStart=/bin/sh -c 'echo ran >> /srv/ctl/failing.log; test $(wc -l < /srv/ctl/failing.log) -ge 3'
Restart=on-failure
RestartSec=100ms
EOF
cat > /etc/systemd/system/ctl.service <<'EOF'
[Service]
Type=exec
ExecStart=/bin/busybox httpd -f -p 8090 -h /srv/ctl
EOF
printf '[Service]\nExecStart=/bin/echo \033]0;pwned\007 title\n' > /etc/systemd/system/hostile.service
for verb in pid kill; do
cat > /srv/ctl/cgi-bin/$verb <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
case "$QUERY_STRING" in
simple) p=$(cat /srv/simple/pid) ;;
forking) p=$(cat /run/forking/pid) ;;
*) echo "no such service"; exit 0 ;;
esac
case "$0" in
*kill) kill -KILL "$p" && echo "killed $p" ;;
*) echo "$p" ;;
esac
EOF
done
chmod 0755 /srv/ctl/cgi-bin/*
cd /etc/systemd/system/multi-user.target.wants
for u in simple clean failing ctl hostile; do ln -s /etc/systemd/system/$u.service .; done
ln -s /lib/systemd/system/forking.service .
ln -s /nowhere "$(printf 'bad\033name.service')"
echo "units written"
"""


def get(ip, port, path, timeout=3):
    c = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace").strip()
    finally:
        c.close()


def poll(what, fn, seconds):
    """fn() until it returns something true (not an exception), bounded; its last value."""
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException) as e:
            last = "%s: %s" % (type(e).__name__, e)
        time.sleep(0.3)
    R.bad(what, "not within %d s (last: %r)" % (seconds, last))
    return None


def console(ec2, iid):
    return ec2.get_console_output(InstanceId=iid).get("Output") or ""


def served(ip, port, path):
    status, body = get(ip, port, path)
    return body if status == 200 else None


def wait_state(ec2, iid, state):
    ec2.get_waiter("instance_" + state).wait(InstanceIds=[iid],
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 180})


def build_image(ec2, base, sg):
    builder = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                SecurityGroupIds=[sg], UserData=USER_DATA)["Instances"][0]["InstanceId"]
    wait_state(ec2, builder, "running")
    if not poll("the builder's user data ran", lambda: "user data exited with 0" in console(ec2, builder), 120):
        print(console(ec2, builder)[-2000:])
        return None
    out = console(ec2, builder)
    R.check("units written on the builder", "units written" in out, out[-800:])
    # Nothing starts them on the builder: enabled units start at the next boot.
    R.check("the builder did not start the units it wrote", "starting simple.service" not in out, out[-800:])
    ec2.stop_instances(InstanceIds=[builder])
    wait_state(ec2, builder, "stopped")
    image = ec2.create_image(InstanceId=builder, Name="units-image")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    ec2.terminate_instances(InstanceIds=[builder])
    return image


def check_serving(ec2, iid, ip):
    info = poll("the simple service serves", lambda: served(ip, 8081, "/info"), 60)
    R.check("Type=simple: User=, WorkingDirectory=, Environment= quoting, EnvironmentFile= "
            "overriding it, ExecStart= continuation, quoting and ${VAR}",
            info == "websvc|/srv/simple|overridden|from the file|first arg|two|/srv/simple", info)
    info = poll("the forking service serves", lambda: served(ip, 8082, "/info"), 60)
    R.check("Type=forking from /lib/systemd/system: User=, WorkingDirectory=, Environment=",
            info == "websvc|/srv/forking|8082", info)
    out = console(ec2, iid)
    R.check("the hostile unit is refused, its bytes escaped on the console",
            "hostile.service: not started" in out and "\\x1b]0;pwned\\x07" in out, out[-1500:])
    R.check("the link named with an ESC is reported escaped", "bad\\x1bname.service" in out, out[-1500:])
    R.check("no raw ESC or BEL on the console", "\x1b" not in out and "\x07" not in out,
            repr(out[-600:]))
    R.check("ssh.service is left to kiln-init's own sshd",
            "ssh.service: not started (kiln-init runs the image's sshd itself)" in out, out[-1500:])
    R.check("the oneshot e2scrub_reap.service is said to be unsupported",
            "e2scrub_reap.service: not started: Type=oneshot is not supported" in out,
            out[-1500:])
    R.check("timers are said not to start", "enabled but not started (not services)" in out
            and "apt-daily.timer" in out, out[-1500:])


def check_restarts(ec2, iid, ip):
    for name, port, restart_sec in (("simple", 8081, 0.5), ("forking", 8082, 0.2)):
        old = served(ip, 8090, "/cgi-bin/pid?" + name)
        status, body = get(ip, 8090, "/cgi-bin/kill?" + name)
        R.check("%s's main process %s killed (SIGKILL)" % (name, old),
                status == 200 and body == "killed %s" % old, body)
        # The service is back with a new main process; its start script ran twice.
        t0 = time.time()
        again = poll("%s is restarted" % name, lambda: served(ip, port, "/starts") == "start\nstart", 30)
        R.check("Restart=always restarted %s (RestartSec=%.1f s) in %.1f s"
                % (name, restart_sec, time.time() - t0), again is not None)
        R.check("%s serves again" % name,
                poll("%s serves" % name, lambda: served(ip, port, "/info"), 30) is not None)
        new = served(ip, 8090, "/cgi-bin/pid?" + name)
        R.check("%s has a new main process (%s, was %s)" % (name, new, old), new and new != old, new)
        out = console(ec2, iid)
        R.check("the console says %s restarts" % name,
                "%s.service: restarting in %.1f s (Restart=always)" % (name, restart_sec) in out, out[-1200:])
    # Restart=on-failure: a clean exit is not restarted, a failure is until it succeeds.
    time.sleep(2)
    R.check("Restart=on-failure does not restart a clean exit", served(ip, 8090, "/clean.log") == "ran",
            served(ip, 8090, "/clean.log"))
    R.check("Restart=on-failure restarts a failure (3 runs, the last one clean)",
            served(ip, 8090, "/failing.log") == "ran\nran\nran", served(ip, 8090, "/failing.log"))
    out = console(ec2, iid)
    R.check("the console says why clean.service stays down",
            "clean.service: stopped (Restart=on-failure)" in out, out[-1200:])


def main(cloud):
    if not cloud.up():
        return
    base = cloud.base_image()
    if base is None:
        return
    ec2 = cloud.client("ec2")
    sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    # This host reaches the services (security groups may be enforced).
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8090, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = build_image(ec2, base, sg)
    if image is None:
        return
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                            SecurityGroupIds=[sg])["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    ip = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    check_serving(ec2, iid, ip)
    check_restarts(ec2, iid, ip)
    # Every boot starts them: stop, start, serve.
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    R.check("after a stop and start the simple service serves",
            poll("simple after restart", lambda: served(ip, 8081, "/info"), 60) is not None)
    R.check("after a stop and start the forking service serves",
            poll("forking after restart", lambda: served(ip, 8082, "/info"), 60) is not None)
    if R.failures:
        print("--- console of %s\n%s" % (iid, console(ec2, iid)[-4000:]))


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, main))
