#!/bin/bash
# Conformance of `kiln cloud`'s Elastic Load Balancing v2 with the real AWS
# CLI v2: every ELBv2 operation of the local cloud driven through the CLI
# with --endpoint-url, its JSON checked, its error codes read from the CLI's
# own message "An error occurred (CODE)", and its waiters run
# (load-balancer-available, load-balancers-deleted, target-in-service,
# target-deregistered). Real instances serve HTTP (busybox httpd, from user
# data) behind a real load balancer: targets go from unused/Target.NotInUse
# to initial and healthy, a wrong health check path makes them unhealthy
# with Target.ResponseCodeMismatch, a stopped instance is
# unused/Target.InvalidState, a deregistered target drains; the listeners
# answer on the load balancer's DNSName only to sources its security groups
# allow. Then kiln's own ELBv2 client (aws_call elbv2) round-trips every
# call it has against the same cloud.
#
# One line per check ("ok NAME" / "FAIL NAME: why"); exit 1 on any failure.
set -u
# A missing tool skips the test on a developer's machine; in CI (CI set) it
# fails it: the conformance client must not silently go missing.
. "$(dirname "$0")/../fixtures/awscli.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
command -v curl >/dev/null || missing "no curl"
command -v haproxy >/dev/null || missing "no haproxy"
KILN_BIN=${KILN_BIN:?}
AWS_CALL=${KILN_BUILD_DIR:?}/aws_call
PORT=4621
CIDR=10.214.11.0/24
NET_PREFIX=10.214.11.
GW=${NET_PREFIX}1
EP=http://127.0.0.1:$PORT
export CIDR
# Other checkouts of kiln on this machine run this test too: one at a time
# on this address range and port.
exec 9>/tmp/kiln-test-net-10.214.11.lock
flock -w 900 9 || {
	echo "FAIL: 10.214.11.0/24 stayed busy" >&2
	exit 1
}

awscli_start lcelb
# In the sanitizer build, the daemon's findings (in its log) fail the test.
CHECK_SANITIZERS=1

ec2() { cli ec2 "$@"; }
call() { call_in elbv2 "$@"; }
err() { err_in elbv2 "$@"; }
# errnv NAME CODE ARGS...: as err, past the CLI's own parameter validation.
errnv() { AWS_CONFIG_FILE=$NOVALIDATE err_in elbv2 "$@"; }
# The waiters poll every 15 s, as long as the daemon keeps an idle
# connection open: the CLI may send its next request on the connection the
# daemon is closing, and the waiters get the one retry any default
# configuration of the CLI would make.
waiter() { AWS_MAX_ATTEMPTS=2 wait_in elbv2 "$@"; }

PYPRE='
import re
def tags(x):
    return {t["Key"]: t.get("Value", "") for t in x.get("Tags", [])}
def health(d):
    return sorted((t["Target"]["Id"], t["TargetHealth"]["State"], t["TargetHealth"].get("Reason")) for t in d["TargetHealthDescriptions"])
def state_of(d, iid):
    return [(t["TargetHealth"]["State"], t["TargetHealth"].get("Reason")) for t in d["TargetHealthDescriptions"] if t["Target"]["Id"] == iid]
def names(d, key, field):
    return sorted(x[field] for x in d[key])
ARN = r"arn:aws:elasticloadbalancing:us-east-1:[0-9]{12}:"
'

# get URL [CURL ARGS...]: "STATUS BODY" of a request from the bridge's own
# address (not the load balancer's, which the host would pick for an address
# of its own), or "000" when refused.
get() {
	local url=$1
	shift
	rm -f "$tmp/body"
	curl -s -m 5 --interface "$GW" -o "$tmp/body" -w '%{http_code}' "$@" "$url" 2>/dev/null
	printf ' %s' "$(head -c 200 "$tmp/body" 2>/dev/null | tr -d '\n')"
}

# health_until NAME TG ID STATE SECONDS: poll DescribeTargetHealth, bounded.
health_until() {
	local name=$1 tg=$2 id=$3 want=$4 n=$5 got=
	local deadline=$((SECONDS + n))
	while [ "$SECONDS" -lt "$deadline" ]; do
		cli elbv2 describe-target-health --target-group-arn "$tg" --targets "Id=$id" &&
			got=$(j 'd["TargetHealthDescriptions"][0]["TargetHealth"]["State"]')
		[ "$got" = "$want" ] && {
			ok "$name"
			return 0
		}
		sleep 0.5
	done
	bad "$name" "$id is '$got' after $n s, want $want"
	return 1
}

# requests ACTION: how many ACTION requests the daemon logged.
requests() {
	grep -c "\"action\":\"$1\"" "$STATE/requests.jsonl" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- setup
"$KILN_BIN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >"$tmp/up.out" 2>&1 || {
	echo "FAIL cloud up: $(cat "$tmp/up.out")"
	exit 1
}
ok "kiln cloud up"
"$KILN_BIN" cloud image debootstrap base --state-dir "$STATE" >"$tmp/base.out" 2>"$tmp/base.err" || {
	echo "FAIL cloud image debootstrap: $(cat "$tmp/base.err")"
	exit 1
}
BASE=$(tail -n 1 "$tmp/base.out" | tr -d '[:space:]')
case $BASE in ami-*) ok "base image $BASE" ;; *)
	echo "FAIL base image: $(cat "$tmp/base.out")"
	exit 1
	;;
esac
ec2 describe-vpcs --filters Name=is-default,Values=true && VPC=$(j 'd["Vpcs"][0]["VpcId"]')
ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC" || exit 1
SUBA=$(j '[s["SubnetId"] for s in d["Subnets"] if s["AvailabilityZone"] == "us-east-1a"][0]')
SUBB=$(j '[s["SubnetId"] for s in d["Subnets"] if s["AvailabilityZone"] == "us-east-1b"][0]')
SUBC=$(j '[s["SubnetId"] for s in d["Subnets"] if s["AvailabilityZone"] == "us-east-1c"][0]')
ec2 describe-security-groups --group-names default && DEFAULT_SG=$(j 'd["SecurityGroups"][0]["GroupId"]')
export VPC SUBA SUBB SUBC DEFAULT_SG
# One group for the load balancer and its instances: its members reach each
# other (the load balancer connects to targets from its own address), and
# the bridge's network reaches listeners on ports 80 to 83 (84 comes later).
ec2 create-security-group --group-name elb-web --description "load balancer and web servers" --vpc-id "$VPC" || exit 1
SG=$(j 'd["GroupId"]')
export SG
ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 8080 --source-group "$SG" || exit 1
ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 80-83 --cidr "$CIDR" || exit 1

# Web servers: busybox httpd on 8080, /health answers 200. The script also
# goes to /etc/kiln/boot.d, as user data runs on the first boot only and one
# instance is stopped and started.
cat >"$tmp/web.sh" <<'EOF'
#!/bin/sh
mkdir -p /etc/kiln/boot.d
cat >/etc/kiln/boot.d/50-web <<'EOS'
#!/bin/sh
mkdir -p /srv/www
hostname >/srv/www/index.html
echo ok >/srv/www/health
busybox httpd -p 8080 -h /srv/www
EOS
chmod 755 /etc/kiln/boot.d/50-web
/etc/kiln/boot.d/50-web
EOF
ec2 run-instances --image-id "$BASE" --instance-type t3.micro --count 3 --security-group-ids "$SG" \
	--subnet-id "$SUBA" --user-data "file://$tmp/web.sh" || {
	echo "FAIL run-instances: $(cat "$tmp/err")"
	exit 1
}
read -r I1 I2 I3 <<<"$(j '[i["InstanceId"] for i in d["Instances"]]')"
read -r IP1 IP2 IP3 <<<"$(j '[i["PrivateIpAddress"] for i in d["Instances"]]')"
export I1 I2 I3

# ---------------------------------------------------------------- load balancers
call "CreateLoadBalancer" create-load-balancer --name elb-a --subnets "$SUBA" "$SUBB" \
	--security-groups "$SG" --scheme internal --tags Key=team,Value=web Key=tier,Value=front || {
	echo "cannot continue"
	exit 1
}
LBA=$(j 'd["LoadBalancers"][0]["LoadBalancerArn"]')
DNSA=$(j 'd["LoadBalancers"][0]["DNSName"]')
export LBA DNSA
jt "CreateLoadBalancer: ARN, name, scheme, type, VPC, zones, groups, ipv4" \
	'(lambda b: re.fullmatch(ARN + r"loadbalancer/app/elb-a/[0-9a-f]{16}", b["LoadBalancerArn"]) and b["LoadBalancerName"] == "elb-a" and b["Scheme"] == "internal" and b["Type"] == "application" and b["VpcId"] == E["VPC"] and sorted((z["ZoneName"], z["SubnetId"]) for z in b["AvailabilityZones"]) == [("us-east-1a", E["SUBA"]), ("us-east-1b", E["SUBB"])] and b["SecurityGroups"] == [E["SG"]] and b["IpAddressType"] == "ipv4")(d["LoadBalancers"][0])'
jt "CreateLoadBalancer: state, creation time, hosted zone" \
	'(lambda b: b["State"]["Code"] in ("provisioning", "active") and b["CreatedTime"] and b["CanonicalHostedZoneId"])(d["LoadBalancers"][0])'
jt "CreateLoadBalancer: DNSName is an address on --cidr $CIDR" \
	'__import__("ipaddress").ip_address(E["DNSA"]) in __import__("ipaddress").ip_network(E["CIDR"])'
if ip -o addr show | grep -q " $DNSA/"; then ok "the DNSName is on the bridge"; else bad "the DNSName is on the bridge" "no $DNSA in ip addr"; fi
waiter "wait load-balancer-available" load-balancer-available --load-balancer-arns "$LBA"
call "CreateLoadBalancer again, same settings" create-load-balancer --name elb-a --subnets "$SUBA" "$SUBB" \
	--security-groups "$SG" --scheme internal --tags Key=team,Value=web Key=tier,Value=front &&
	jt "CreateLoadBalancer is idempotent: the same load balancer" '[b["LoadBalancerArn"] for b in d["LoadBalancers"]] == [E["LBA"]]'
call "CreateLoadBalancer again, subnets in another order" create-load-balancer --name elb-a --subnets "$SUBB" "$SUBA" \
	--security-groups "$SG" --scheme internal &&
	jt "CreateLoadBalancer: subnets are a set, the same load balancer" '[b["LoadBalancerArn"] for b in d["LoadBalancers"]] == [E["LBA"]]'
err "CreateLoadBalancer same name, other scheme -> DuplicateLoadBalancerName" DuplicateLoadBalancerName \
	create-load-balancer --name elb-a --subnets "$SUBA" "$SUBB" --security-groups "$SG"
err "CreateLoadBalancer same name, other subnets -> DuplicateLoadBalancerName" DuplicateLoadBalancerName \
	create-load-balancer --name elb-a --subnets "$SUBA" "$SUBC" --security-groups "$SG" --scheme internal
err "CreateLoadBalancer bad name -> ValidationError" ValidationError \
	create-load-balancer --name=-elb --subnets "$SUBA" "$SUBB"
err "CreateLoadBalancer 33-character name -> ValidationError" ValidationError \
	create-load-balancer --name abcdefghijklmnopqrstuvwxyz0123456 --subnets "$SUBA" "$SUBB"
errnv "CreateLoadBalancer without a name -> ValidationError" ValidationError \
	create-load-balancer --cli-input-json "{\"Subnets\": [\"$SUBA\", \"$SUBB\"]}"
err "CreateLoadBalancer one subnet -> ValidationError" ValidationError \
	create-load-balancer --name elb-one --subnets "$SUBA"
err "CreateLoadBalancer unknown subnet -> SubnetNotFound" SubnetNotFound \
	create-load-balancer --name elb-x --subnets "$SUBA" subnet-0123456789abcdef0
err "CreateLoadBalancer unknown group -> InvalidSecurityGroup" InvalidSecurityGroup \
	create-load-balancer --name elb-x --subnets "$SUBA" "$SUBB" --security-groups sg-0123456789abcdef0
err "CreateLoadBalancer bad scheme -> ValidationError" ValidationError \
	create-load-balancer --name elb-x --subnets "$SUBA" "$SUBB" --scheme sideways
call "CreateLoadBalancer (defaults)" create-load-balancer --name elb-b --subnets "$SUBA" "$SUBB" "$SUBC" &&
	jt "CreateLoadBalancer defaults: internet-facing, the VPC's default group, three zones" \
		'(lambda b: b["Scheme"] == "internet-facing" and b["SecurityGroups"] == [E["DEFAULT_SG"]] and len(b["AvailabilityZones"]) == 3)(d["LoadBalancers"][0])'
LBB=$(j 'd["LoadBalancers"][0]["LoadBalancerArn"]')
DNSB=$(j 'd["LoadBalancers"][0]["DNSName"]')
call "CreateLoadBalancer (third)" create-load-balancer --name elb-c --subnet-mappings "SubnetId=$SUBB" "SubnetId=$SUBC"
LBC=$(j 'd["LoadBalancers"][0]["LoadBalancerArn"]')
export LBB LBC
jt "CreateLoadBalancer: distinct addresses" 'len({E["DNSA"], d["LoadBalancers"][0]["DNSName"]}) == 2'

call "DescribeLoadBalancers" describe-load-balancers &&
	jt "DescribeLoadBalancers lists the three" 'names(d, "LoadBalancers", "LoadBalancerName") == ["elb-a", "elb-b", "elb-c"]'
call "DescribeLoadBalancers --names" describe-load-balancers --names elb-a elb-c &&
	jt "DescribeLoadBalancers --names" 'names(d, "LoadBalancers", "LoadBalancerName") == ["elb-a", "elb-c"]'
call "DescribeLoadBalancers --load-balancer-arns" describe-load-balancers --load-balancer-arns "$LBB" &&
	jt "DescribeLoadBalancers --load-balancer-arns" '[b["LoadBalancerArn"] for b in d["LoadBalancers"]] == [E["LBB"]]'
err "DescribeLoadBalancers unknown name -> LoadBalancerNotFound" LoadBalancerNotFound describe-load-balancers --names elb-a nosuch
err "DescribeLoadBalancers unknown ARN -> LoadBalancerNotFound" LoadBalancerNotFound \
	describe-load-balancers --load-balancer-arns "${LBA%/*}/0123456789abcdef"
# Pages: --page-size is ELBv2's PageSize (the CLI then stops at one page and
# prints NextMarker); the markers are followed by hand, bounded.
before=$(requests DescribeLoadBalancers)
seen=()
marker=()
for page in 1 2 3 4; do
	call "DescribeLoadBalancers --page-size 1, page $page" describe-load-balancers --page-size 1 "${marker[@]}" || break
	seen+=($(j '[b["LoadBalancerName"] for b in d["LoadBalancers"]]'))
	next=$(j 'd.get("NextMarker")')
	[ -n "$next" ] || break
	marker=(--marker "$next")
done
eq "DescribeLoadBalancers pages of 1: three pages, each once, in one order" "${seen[*]}:$page" "elb-a elb-b elb-c:3"
eq "DescribeLoadBalancers pages: one request a page" "$(($(requests DescribeLoadBalancers) - before))" 3
call "DescribeLoadBalancers --max-items 2" describe-load-balancers --max-items 2 &&
	jt "DescribeLoadBalancers --max-items 2: two and a NextToken" 'len(d["LoadBalancers"]) == 2 and d.get("NextToken")'
TOK=$(j 'd.get("NextToken")')
call "DescribeLoadBalancers --starting-token" describe-load-balancers --max-items 2 --starting-token "$TOK" &&
	jt "DescribeLoadBalancers --starting-token: the third" 'names(d, "LoadBalancers", "LoadBalancerName") == ["elb-c"] and not d.get("NextToken")'
errnv "DescribeLoadBalancers PageSize 401 -> ValidationError" ValidationError describe-load-balancers --page-size 401
err "DescribeLoadBalancers bad Marker -> ValidationError" ValidationError describe-load-balancers --marker nonsense

call "DescribeLoadBalancerAttributes" describe-load-balancer-attributes --load-balancer-arn "$LBA" &&
	jt "DescribeLoadBalancerAttributes: AWS's defaults" \
		'(lambda a: a["idle_timeout.timeout_seconds"] == "60" and a["deletion_protection.enabled"] == "false" and a["routing.http2.enabled"] == "true")({x["Key"]: x["Value"] for x in d["Attributes"]})'
call "ModifyLoadBalancerAttributes" modify-load-balancer-attributes --load-balancer-arn "$LBA" \
	--attributes Key=idle_timeout.timeout_seconds,Value=120 Key=deletion_protection.enabled,Value=true &&
	jt "ModifyLoadBalancerAttributes returns the new values" \
		'(lambda a: a["idle_timeout.timeout_seconds"] == "120" and a["deletion_protection.enabled"] == "true")({x["Key"]: x["Value"] for x in d["Attributes"]})'
call "DescribeLoadBalancerAttributes after modify" describe-load-balancer-attributes --load-balancer-arn "$LBA" &&
	jt "ModifyLoadBalancerAttributes kept" '{x["Key"]: x["Value"] for x in d["Attributes"]}["idle_timeout.timeout_seconds"] == "120"'
err "DeleteLoadBalancer under deletion protection -> OperationNotPermitted" OperationNotPermitted \
	delete-load-balancer --load-balancer-arn "$LBA"
err "ModifyLoadBalancerAttributes idle timeout 0 -> ValidationError" ValidationError \
	modify-load-balancer-attributes --load-balancer-arn "$LBA" --attributes Key=idle_timeout.timeout_seconds,Value=0
err "ModifyLoadBalancerAttributes unknown key -> ValidationError" ValidationError \
	modify-load-balancer-attributes --load-balancer-arn "$LBA" --attributes Key=no.such.key,Value=1
err "ModifyLoadBalancerAttributes unknown load balancer -> LoadBalancerNotFound" LoadBalancerNotFound \
	modify-load-balancer-attributes --load-balancer-arn "${LBA%/*}/0123456789abcdef" \
	--attributes Key=idle_timeout.timeout_seconds,Value=30
call "ModifyLoadBalancerAttributes deletion protection off" modify-load-balancer-attributes --load-balancer-arn "$LBA" \
	--attributes Key=deletion_protection.enabled,Value=false
call "SetSecurityGroups" set-security-groups --load-balancer-arn "$LBA" --security-groups "$SG" &&
	jt "SetSecurityGroups: the groups now set" 'd["SecurityGroupIds"] == [E["SG"]]'
err "SetSecurityGroups with an unknown group -> InvalidSecurityGroup" InvalidSecurityGroup \
	set-security-groups --load-balancer-arn "$LBA" --security-groups sg-0123456789abcdef0

# ---------------------------------------------------------------- target groups
call "CreateTargetGroup (defaults)" create-target-group --name tg-def --protocol HTTP --port 8080 --vpc-id "$VPC" &&
	jt "CreateTargetGroup: AWS's defaults" \
		'(lambda g: re.fullmatch(ARN + r"targetgroup/tg-def/[0-9a-f]{16}", g["TargetGroupArn"]) and (g["Protocol"], g["Port"], g["VpcId"], g["TargetType"]) == ("HTTP", 8080, E["VPC"], "instance") and (g["HealthCheckProtocol"], g["HealthCheckPort"], g["HealthCheckEnabled"], g["HealthCheckIntervalSeconds"], g["HealthCheckTimeoutSeconds"], g["HealthyThresholdCount"], g["UnhealthyThresholdCount"], g["HealthCheckPath"], g["Matcher"]["HttpCode"]) == ("HTTP", "traffic-port", True, 30, 5, 5, 2, "/", "200") and g["LoadBalancerArns"] == [])(d["TargetGroups"][0])'
TGDEF=$(j 'd["TargetGroups"][0]["TargetGroupArn"]')
hc=(--health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2
	--healthy-threshold-count 2 --unhealthy-threshold-count 2)
call "CreateTargetGroup (web)" create-target-group --name tg-web --protocol HTTP --port 8080 --vpc-id "$VPC" \
	"${hc[@]}" --matcher HttpCode=200 --tags Key=team,Value=web &&
	jt "CreateTargetGroup: health check settings" \
		'(lambda g: (g["HealthCheckPath"], g["HealthCheckIntervalSeconds"], g["HealthCheckTimeoutSeconds"], g["HealthyThresholdCount"], g["UnhealthyThresholdCount"]) == ("/health", 5, 2, 2, 2))(d["TargetGroups"][0])'
TGWEB=$(j 'd["TargetGroups"][0]["TargetGroupArn"]')
export TGDEF TGWEB
call "CreateTargetGroup again, same settings" create-target-group --name tg-web --protocol HTTP --port 8080 \
	--vpc-id "$VPC" "${hc[@]}" --matcher HttpCode=200 &&
	jt "CreateTargetGroup is idempotent: the same group" '[g["TargetGroupArn"] for g in d["TargetGroups"]] == [E["TGWEB"]]'
err "CreateTargetGroup same name, other port -> DuplicateTargetGroupName" DuplicateTargetGroupName \
	create-target-group --name tg-web --protocol HTTP --port 9090 --vpc-id "$VPC" "${hc[@]}"
# A health check that fails: busybox answers 404 for a path it lacks.
call "CreateTargetGroup (failing health check)" create-target-group --name tg-bad --protocol HTTP --port 8080 \
	--vpc-id "$VPC" --health-check-path /nope --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
	--unhealthy-threshold-count 2 --matcher HttpCode=200-299
TGBAD=$(j 'd["TargetGroups"][0]["TargetGroupArn"]')
export TGBAD
tgx=(create-target-group --name tg-x --protocol HTTP --port 8080 --vpc-id "$VPC")
for bad_setting in "health-check-interval-seconds 4" "health-check-interval-seconds 301" \
	"health-check-timeout-seconds 1" "health-check-timeout-seconds 121" "healthy-threshold-count 1" \
	"healthy-threshold-count 11" "unhealthy-threshold-count 1" "unhealthy-threshold-count 11"; do
	set -- $bad_setting
	errnv "CreateTargetGroup --$1 $2 -> ValidationError" ValidationError "${tgx[@]}" "--$1" "$2"
done
errnv "CreateTargetGroup timeout = interval -> ValidationError" ValidationError \
	"${tgx[@]}" --health-check-interval-seconds 5 --health-check-timeout-seconds 5
err "CreateTargetGroup default timeout 5 with interval 5 -> ValidationError" ValidationError \
	"${tgx[@]}" --health-check-interval-seconds 5
err "CreateTargetGroup matcher 100 -> ValidationError" ValidationError "${tgx[@]}" --matcher HttpCode=100
err "CreateTargetGroup matcher 200-500 -> ValidationError" ValidationError "${tgx[@]}" --matcher HttpCode=200-500
err "CreateTargetGroup path without / -> ValidationError" ValidationError "${tgx[@]}" --health-check-path health
err "CreateTargetGroup health check port 0 -> ValidationError" ValidationError "${tgx[@]}" --health-check-port 0
err "CreateTargetGroup bad name -> ValidationError" ValidationError \
	create-target-group --name tg_x --protocol HTTP --port 8080 --vpc-id "$VPC"
err "CreateTargetGroup without a protocol -> ValidationError" ValidationError \
	create-target-group --name tg-x --port 8080 --vpc-id "$VPC"
err "CreateTargetGroup without a port -> ValidationError" ValidationError \
	create-target-group --name tg-x --protocol HTTP --vpc-id "$VPC"
err "CreateTargetGroup without a VPC -> ValidationError" ValidationError \
	create-target-group --name tg-x --protocol HTTP --port 8080
call "DescribeTargetGroups (refused creations)" describe-target-groups &&
	jt "no target group made by the refused requests" '"tg-x" not in names(d, "TargetGroups", "TargetGroupName")'

call "DescribeTargetGroups" describe-target-groups &&
	jt "DescribeTargetGroups lists the three" 'names(d, "TargetGroups", "TargetGroupName") == ["tg-bad", "tg-def", "tg-web"]'
call "DescribeTargetGroups --names" describe-target-groups --names tg-web &&
	jt "DescribeTargetGroups --names" '[g["TargetGroupArn"] for g in d["TargetGroups"]] == [E["TGWEB"]]'
call "DescribeTargetGroups --target-group-arns" describe-target-groups --target-group-arns "$TGDEF" "$TGBAD" &&
	jt "DescribeTargetGroups --target-group-arns" 'names(d, "TargetGroups", "TargetGroupName") == ["tg-bad", "tg-def"]'
err "DescribeTargetGroups unknown name -> TargetGroupNotFound" TargetGroupNotFound describe-target-groups --names nosuch
err "DescribeTargetGroups unknown ARN -> TargetGroupNotFound" TargetGroupNotFound \
	describe-target-groups --target-group-arns "${TGWEB%/*}/0123456789abcdef"
err "DescribeTargetGroups with a load balancer's ARN -> ValidationError" ValidationError \
	describe-target-groups --target-group-arns "$LBA"
err "DescribeTargetGroups unknown load balancer -> LoadBalancerNotFound" LoadBalancerNotFound \
	describe-target-groups --load-balancer-arn "${LBA%/*}/0123456789abcdef"
call "DescribeTargetGroups --page-size 2" describe-target-groups --page-size 2 &&
	jt "DescribeTargetGroups --page-size 2: two and a NextMarker" 'len(d["TargetGroups"]) == 2 and d.get("NextMarker")'
first=$(j '[g["TargetGroupName"] for g in d["TargetGroups"]]')
call "DescribeTargetGroups --marker" describe-target-groups --page-size 2 --marker "$(j 'd["NextMarker"]')" &&
	eq "DescribeTargetGroups pages: all three once" \
		"$(printf '%s\n' $first $(j '[g["TargetGroupName"] for g in d["TargetGroups"]]') | sort | tr '\n' ' ')" "tg-bad tg-def tg-web "

call "ModifyTargetGroup" modify-target-group --target-group-arn "$TGDEF" --health-check-path /ready \
	--healthy-threshold-count 3 --matcher HttpCode=200-299 &&
	jt "ModifyTargetGroup: changed what was given, kept the rest" \
		'(lambda g: (g["HealthCheckPath"], g["HealthyThresholdCount"], g["Matcher"]["HttpCode"], g["HealthCheckIntervalSeconds"], g["UnhealthyThresholdCount"], g["Port"]) == ("/ready", 3, "200-299", 30, 2, 8080))(d["TargetGroups"][0])'
errnv "ModifyTargetGroup interval 301 -> ValidationError" ValidationError \
	modify-target-group --target-group-arn "$TGDEF" --health-check-interval-seconds 301
err "ModifyTargetGroup timeout above interval -> ValidationError" ValidationError \
	modify-target-group --target-group-arn "$TGDEF" --health-check-timeout-seconds 60
call "DescribeTargetGroups after refused modifications" describe-target-groups --target-group-arns "$TGDEF" &&
	jt "refused ModifyTargetGroup changed nothing" \
		'(lambda g: (g["HealthCheckIntervalSeconds"], g["HealthCheckTimeoutSeconds"]) == (30, 5))(d["TargetGroups"][0])'
err "ModifyTargetGroup unknown -> TargetGroupNotFound" TargetGroupNotFound \
	modify-target-group --target-group-arn "${TGWEB%/*}/0123456789abcdef" --health-check-path /x

call "DescribeTargetGroupAttributes" describe-target-group-attributes --target-group-arn "$TGWEB" &&
	jt "DescribeTargetGroupAttributes: AWS's defaults" \
		'(lambda a: (a["deregistration_delay.timeout_seconds"], a["slow_start.duration_seconds"], a["stickiness.enabled"], a["stickiness.type"], a["stickiness.lb_cookie.duration_seconds"]) == ("300", "0", "false", "lb_cookie", "86400"))({x["Key"]: x["Value"] for x in d["Attributes"]})'
call "ModifyTargetGroupAttributes" modify-target-group-attributes --target-group-arn "$TGWEB" \
	--attributes Key=deregistration_delay.timeout_seconds,Value=5 &&
	jt "ModifyTargetGroupAttributes returns the new value" \
		'{x["Key"]: x["Value"] for x in d["Attributes"]}["deregistration_delay.timeout_seconds"] == "5"'
err "ModifyTargetGroupAttributes delay 3601 -> ValidationError" ValidationError \
	modify-target-group-attributes --target-group-arn "$TGWEB" --attributes Key=deregistration_delay.timeout_seconds,Value=3601
err "ModifyTargetGroupAttributes slow start 10 -> ValidationError" ValidationError \
	modify-target-group-attributes --target-group-arn "$TGWEB" --attributes Key=slow_start.duration_seconds,Value=10
err "ModifyTargetGroupAttributes unknown key -> ValidationError" ValidationError \
	modify-target-group-attributes --target-group-arn "$TGWEB" --attributes Key=no.such.key,Value=1
call "DescribeTargetGroupAttributes after modify" describe-target-group-attributes --target-group-arn "$TGWEB" &&
	jt "ModifyTargetGroupAttributes kept, refused ones changed nothing" \
		'(lambda a: (a["deregistration_delay.timeout_seconds"], a["slow_start.duration_seconds"]) == ("5", "0"))({x["Key"]: x["Value"] for x in d["Attributes"]})'

# ---------------------------------------------------------------- targets
wait_in ec2 "wait instance-running (three web servers)" instance-running --instance-ids "$I1" "$I2" "$I3"
call "RegisterTargets" register-targets --target-group-arn "$TGWEB" --targets "Id=$I1" "Id=$I2,Port=8080"
call "DescribeTargetHealth (no listener)" describe-target-health --target-group-arn "$TGWEB" &&
	jt "a group no listener uses: unused/Target.NotInUse, port and health check port 8080" \
		'health(d) == sorted([(E["I1"], "unused", "Target.NotInUse"), (E["I2"], "unused", "Target.NotInUse")]) and all(t["Target"]["Port"] == 8080 and t["HealthCheckPort"] == "8080" and t["TargetHealth"].get("Description") for t in d["TargetHealthDescriptions"])'
call "DescribeTargetHealth --targets (not registered)" describe-target-health --target-group-arn "$TGWEB" --targets "Id=$I3" &&
	jt "a target not registered: unused/Target.NotRegistered" 'health(d) == [(E["I3"], "unused", "Target.NotRegistered")]'
err "RegisterTargets unknown instance -> InvalidTarget" InvalidTarget \
	register-targets --target-group-arn "$TGWEB" --targets Id=i-0123456789abcdef0
errnv "RegisterTargets port 0 -> ValidationError" ValidationError \
	register-targets --target-group-arn "$TGWEB" --targets "Id=$I1,Port=0"
err "RegisterTargets unknown group -> TargetGroupNotFound" TargetGroupNotFound \
	register-targets --target-group-arn "${TGWEB%/*}/0123456789abcdef" --targets "Id=$I1"
err "DescribeTargetHealth unknown group -> TargetGroupNotFound" TargetGroupNotFound \
	describe-target-health --target-group-arn "${TGWEB%/*}/0123456789abcdef"
err "DescribeTargetHealth unknown instance -> InvalidTarget" InvalidTarget \
	describe-target-health --target-group-arn "$TGWEB" --targets Id=i-0123456789abcdef0
call "RegisterTargets (failing group)" register-targets --target-group-arn "$TGBAD" --targets "Id=$I1" "Id=$I3"
call "RegisterTargets twice" register-targets --target-group-arn "$TGWEB" --targets "Id=$I1"
call "DescribeTargetHealth after registering twice" describe-target-health --target-group-arn "$TGWEB" &&
	jt "registering twice registers once" 'len(d["TargetHealthDescriptions"]) == 2'
# Deregistering from a group no listener uses: nothing to drain.
call "RegisterTargets (unused group)" register-targets --target-group-arn "$TGDEF" --targets "Id=$I3"
call "DeregisterTargets (unused group)" deregister-targets --target-group-arn "$TGDEF" --targets "Id=$I3"
call "DescribeTargetHealth (unused group, deregistered)" describe-target-health --target-group-arn "$TGDEF" &&
	jt "a target deregistered from a group no listener uses goes at once" 'd["TargetHealthDescriptions"] == []'
# A group holds at most 1,000 targets (AWS's quota), the 1,001st is refused
# and nothing of its request is kept. Ten requests of 100 instance:port pairs.
for b in $(seq 0 9); do
	batch=()
	for p in $(seq $((b * 100 + 1)) $((b * 100 + 100))); do batch+=("Id=$I3,Port=$p"); done
	cli elbv2 register-targets --target-group-arn "$TGDEF" --targets "${batch[@]}" ||
		bad "RegisterTargets up to 1,000" "batch $b: $(head -c 300 "$tmp/err")"
done
err "RegisterTargets the 1,001st -> TooManyTargets" TooManyTargets \
	register-targets --target-group-arn "$TGDEF" --targets "Id=$I3,Port=1001" "Id=$I3,Port=1"
call "DescribeTargetHealth (1,000 targets)" describe-target-health --target-group-arn "$TGDEF" &&
	jt "1,000 targets, none of the refused request" \
		'len(d["TargetHealthDescriptions"]) == 1000 and all(t["Target"]["Port"] <= 1000 for t in d["TargetHealthDescriptions"])'
for b in $(seq 0 9); do
	batch=()
	for p in $(seq $((b * 100 + 1)) $((b * 100 + 100))); do batch+=("Id=$I3,Port=$p"); done
	cli elbv2 deregister-targets --target-group-arn "$TGDEF" --targets "${batch[@]}" ||
		bad "DeregisterTargets the 1,000" "batch $b: $(head -c 300 "$tmp/err")"
done
call "DescribeTargetHealth (the 1,000 deregistered)" describe-target-health --target-group-arn "$TGDEF" &&
	jt "the 1,000 went at once" 'd["TargetHealthDescriptions"] == []'

# ---------------------------------------------------------------- listeners
call "CreateListener forward" create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 80 \
	--default-actions "Type=forward,TargetGroupArn=$TGWEB" --tags Key=role,Value=prod || {
	echo "cannot continue"
	exit 1
}
L80=$(j 'd["Listeners"][0]["ListenerArn"]')
export L80
jt "CreateListener: ARN, load balancer, port, protocol, forward action" \
	'(lambda l: re.fullmatch(ARN + r"listener/app/elb-a/[0-9a-f]{16}/[0-9a-f]{16}", l["ListenerArn"]) and l["ListenerArn"].split("/")[3] == E["LBA"].split("/")[-1] and l["LoadBalancerArn"] == E["LBA"] and (l["Port"], l["Protocol"]) == (80, "HTTP") and [(a["Type"], a.get("TargetGroupArn")) for a in l["DefaultActions"]] == [("forward", E["TGWEB"])] and [(g["TargetGroupArn"], g["Weight"]) for g in l["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]] == [(E["TGWEB"], 1)])(d["Listeners"][0])'
call "DescribeTargetHealth right after CreateListener" describe-target-health --target-group-arn "$TGWEB" &&
	jt "targets of a group a listener now uses: initial (registration or initial checks)" \
		'all(s == "initial" and r in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking") for _, s, r in health(d))'
call "CreateListener again, same settings" create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 80 \
	--default-actions "Type=forward,TargetGroupArn=$TGWEB" &&
	jt "CreateListener is idempotent: the same listener" '[l["ListenerArn"] for l in d["Listeners"]] == [E["L80"]]'
err "CreateListener same port, other action -> DuplicateListener" DuplicateListener \
	create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 80 \
	--default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=200}'
call "CreateListener weighted ForwardConfig" create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 81 \
	--default-actions "[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"$TGWEB\",\"Weight\":3},{\"TargetGroupArn\":\"$TGBAD\",\"Weight\":1}],\"TargetGroupStickinessConfig\":{\"Enabled\":true,\"DurationSeconds\":120}}}]" &&
	jt "CreateListener weighted: groups, weights, stickiness, no single TargetGroupArn" \
		'(lambda a: a["Type"] == "forward" and "TargetGroupArn" not in a and sorted((g["TargetGroupArn"], g["Weight"]) for g in a["ForwardConfig"]["TargetGroups"]) == sorted([(E["TGWEB"], 3), (E["TGBAD"], 1)]) and a["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 120})(d["Listeners"][0]["DefaultActions"][0])'
L81=$(j 'd["Listeners"][0]["ListenerArn"]')
call "CreateListener fixed-response" create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 82 \
	--default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=404,ContentType=text/plain,MessageBody=nothing here}' &&
	jt "CreateListener fixed-response: status, type, body" \
		'd["Listeners"][0]["DefaultActions"][0]["FixedResponseConfig"] == {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "nothing here"}'
L82=$(j 'd["Listeners"][0]["ListenerArn"]')
export L81 L82
err "CreateListener unknown load balancer -> LoadBalancerNotFound" LoadBalancerNotFound \
	create-listener --load-balancer-arn "${LBA%/*}/0123456789abcdef" --protocol HTTP --port 80 \
	--default-actions "Type=forward,TargetGroupArn=$TGWEB"
err "CreateListener unknown target group -> TargetGroupNotFound" TargetGroupNotFound \
	create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 83 \
	--default-actions "Type=forward,TargetGroupArn=${TGWEB%/*}/0123456789abcdef"
err "CreateListener fixed-response 302 -> ValidationError" ValidationError \
	create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 83 \
	--default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=302}'
err "CreateListener ForwardConfig and another TargetGroupArn -> ValidationError" ValidationError \
	create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 83 \
	--default-actions "[{\"Type\":\"forward\",\"TargetGroupArn\":\"$TGDEF\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"$TGWEB\"}]}}]"
err "CreateListener with a group another load balancer uses -> TargetGroupAssociationLimit" TargetGroupAssociationLimit \
	create-listener --load-balancer-arn "$LBB" --protocol HTTP --port 80 --default-actions "Type=forward,TargetGroupArn=$TGWEB"
errnv "CreateListener without actions -> ValidationError" ValidationError \
	create-listener --cli-input-json "{\"LoadBalancerArn\": \"$LBA\", \"Protocol\": \"HTTP\", \"Port\": 83}"
err "CreateListener two default actions -> TooManyActions" TooManyActions \
	create-listener --load-balancer-arn "$LBA" --protocol HTTP --port 83 \
	--default-actions "Type=forward,TargetGroupArn=$TGWEB" 'Type=fixed-response,FixedResponseConfig={StatusCode=200}'
err "CreateListener TCP -> UnsupportedProtocol" UnsupportedProtocol \
	create-listener --load-balancer-arn "$LBA" --protocol TCP --port 83 --default-actions "Type=forward,TargetGroupArn=$TGWEB"
call "DescribeListeners --load-balancer-arn" describe-listeners --load-balancer-arn "$LBA" &&
	jt "DescribeListeners: the three, ports 80-82" 'sorted(l["Port"] for l in d["Listeners"]) == [80, 81, 82] and all(l["LoadBalancerArn"] == E["LBA"] for l in d["Listeners"])'
call "DescribeListeners --listener-arns" describe-listeners --listener-arns "$L82" &&
	jt "DescribeListeners --listener-arns" '[l["ListenerArn"] for l in d["Listeners"]] == [E["L82"]]'
call "DescribeListeners --page-size 2" describe-listeners --load-balancer-arn "$LBA" --page-size 2 &&
	jt "DescribeListeners --page-size 2: two and a NextMarker" 'len(d["Listeners"]) == 2 and d.get("NextMarker")'
call "DescribeListeners --marker" describe-listeners --load-balancer-arn "$LBA" --page-size 2 --marker "$(j 'd["NextMarker"]')" &&
	jt "DescribeListeners last page: one, no NextMarker" 'len(d["Listeners"]) == 1 and not d.get("NextMarker")'
err "DescribeListeners unknown -> ListenerNotFound" ListenerNotFound \
	describe-listeners --listener-arns "${L80%/*}/0123456789abcdef"
err "DescribeListeners with no ARN -> ValidationError" ValidationError describe-listeners --listener-arns listener-80
errnv "DescribeListeners without a load balancer or listeners -> ValidationError" ValidationError describe-listeners
call "DescribeTargetGroups --load-balancer-arn" describe-target-groups --load-balancer-arn "$LBA" &&
	jt "DescribeTargetGroups --load-balancer-arn: the groups its listeners use, with its ARN" \
		'names(d, "TargetGroups", "TargetGroupName") == ["tg-bad", "tg-web"] and all(g["LoadBalancerArns"] == [E["LBA"]] for g in d["TargetGroups"])'

# ---------------------------------------------------------------- health, traffic
waiter "wait target-in-service" target-in-service --target-group-arn "$TGWEB" --targets "Id=$I1" "Id=$I2"
call "DescribeTargetHealth in service" describe-target-health --target-group-arn "$TGWEB" &&
	jt "healthy targets, without a reason" 'health(d) == sorted([(E["I1"], "healthy", None), (E["I2"], "healthy", None)])'
# A target that never passed a check turns unhealthy after the unhealthy
# threshold's failed checks (2 x 5 s here), as on AWS.
health_until "a new target failing its health check (404): unhealthy" "$TGBAD" "$I1" unhealthy 20
call "DescribeTargetHealth (failing group)" describe-target-health --target-group-arn "$TGBAD" --targets "Id=$I1" &&
	jt "unhealthy: Target.ResponseCodeMismatch, the code in the description" \
		'(lambda h: h["State"] == "unhealthy" and h["Reason"] == "Target.ResponseCodeMismatch" and "404" in h.get("Description", ""))(d["TargetHealthDescriptions"][0]["TargetHealth"])'


case $(get "http://$DNSA/") in "200 ip-"*) ok "the DNSName serves the targets" ;;
*) bad "the DNSName serves the targets" "got '$(get "http://$DNSA/")'" ;; esac
hosts=$(for i in 1 2 3 4 5 6; do get "http://$DNSA/"; echo; done | sort -u | tr '\n' ' ')
eq "requests reach both healthy targets" "$hosts" "200 ip-${IP1//./-} 200 ip-${IP2//./-} "
eq "fixed-response listener answers its status and body" "$(get "http://$DNSA:82/")" "404 nothing here"
# Port 84: the load balancer's group does not let the bridge's network in, until it does.
call "CreateListener on a port its group does not open" create-listener --load-balancer-arn "$LBA" --protocol HTTP \
	--port 84 --default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=200,MessageBody=open}'
eq "a listener refuses a source its groups do not allow" "$(get "http://$DNSA:84/")" "000 "
ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 84 --cidr "$CIDR" ||
	bad "AuthorizeSecurityGroupIngress 84" "$(cat "$tmp/err")"
# The new source list reaches the running listener (lbsync.c replaces its ACL
# through HAProxy's runtime API), bounded to 10 s.
got=
for i in $(seq 1 40); do
	got=$(get "http://$DNSA:84/")
	[ "$got" = "200 open" ] && break
	sleep 0.25
done
eq "a listener lets a source in once its groups allow it" "$got" "200 open"
# elb-b is in the VPC's default group, which lets its own members in: the
# host is none, from the bridge's address or from any other of its own.
call "CreateListener (default group)" create-listener --load-balancer-arn "$LBB" --protocol HTTP \
	--port 80 --default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=200,MessageBody=members}'
eq "the default group's load balancer refuses the bridge's address" "$(get "http://$DNSB/")" "000 "
# Nor does the host connecting without choosing its source: the route of the
# load balancer's address names the bridge's, not the balancer's own (which
# its group's members rule lets in).
eq "the default group's load balancer refuses the host" \
	"$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$DNSB/" 2>/dev/null)" "000"

call "ModifyListener to fixed-response" modify-listener --listener-arn "$L80" \
	--default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=503,ContentType=text/plain,MessageBody=maintenance}' &&
	jt "ModifyListener: actions replaced, port kept" \
		'(lambda l: l["Port"] == 80 and [a["Type"] for a in l["DefaultActions"]] == ["fixed-response"])(d["Listeners"][0])'
eq "after ModifyListener the listener answers the new action" "$(get "http://$DNSA/")" "503 maintenance"
call "ModifyListener back to forward" modify-listener --listener-arn "$L80" --default-actions "Type=forward,TargetGroupArn=$TGWEB" &&
	jt "ModifyListener back: forward to the group" '[a.get("TargetGroupArn") for a in d["Listeners"][0]["DefaultActions"]] == [E["TGWEB"]]'
case $(get "http://$DNSA/") in "200 ip-"*) ok "forwarding again after ModifyListener" ;;
*) bad "forwarding again after ModifyListener" "$(get "http://$DNSA/")" ;; esac
call "ModifyListener weights 100/0" modify-listener --listener-arn "$L81" \
	--default-actions "[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"$TGWEB\",\"Weight\":100},{\"TargetGroupArn\":\"$TGBAD\",\"Weight\":0}]}}]" &&
	jt "ModifyListener weights: 100 and 0, stickiness replaced (off)" \
		'(lambda f: sorted((g["TargetGroupArn"], g["Weight"]) for g in f["TargetGroups"]) == sorted([(E["TGWEB"], 100), (E["TGBAD"], 0)]) and f["TargetGroupStickinessConfig"]["Enabled"] is False)(d["Listeners"][0]["DefaultActions"][0]["ForwardConfig"])'
call "ModifyListener port" modify-listener --listener-arn "$L82" --port 83 &&
	jt "ModifyListener port: new port, action kept" \
		'(lambda l: l["Port"] == 83 and l["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404")(d["Listeners"][0])'
err "ModifyListener onto a port in use -> DuplicateListener" DuplicateListener modify-listener --listener-arn "$L82" --port 80
err "ModifyListener unknown -> ListenerNotFound" ListenerNotFound \
	modify-listener --listener-arn "${L80%/*}/0123456789abcdef" --port 90
err "DeleteTargetGroup in use -> ResourceInUse" ResourceInUse delete-target-group --target-group-arn "$TGWEB"

# A stopped instance is unused/Target.InvalidState.
ec2 stop-instances --instance-ids "$I3" >/dev/null || bad "StopInstances $I3" "$(cat "$tmp/err")"
wait_in ec2 "wait instance-stopped" instance-stopped --instance-ids "$I3"
call "DescribeTargetHealth (stopped instance)" describe-target-health --target-group-arn "$TGBAD" --targets "Id=$I3" &&
	jt "a stopped instance: unused/Target.InvalidState" 'health(d) == [(E["I3"], "unused", "Target.InvalidState")]'

# Deregistering: draining for the group's delay (5 s), then gone.
call "DeregisterTargets" deregister-targets --target-group-arn "$TGWEB" --targets "Id=$I2"
call "DescribeTargetHealth (deregistered)" describe-target-health --target-group-arn "$TGWEB" --targets "Id=$I2" &&
	jt "a deregistered target drains: draining/Target.DeregistrationInProgress" \
		'health(d) == [(E["I2"], "draining", "Target.DeregistrationInProgress")]'
hosts=$(for i in 1 2 3 4 5 6; do get "http://$DNSA/"; echo; done | sort -u | tr '\n' ' ')
eq "no new request reaches a draining target" "$hosts" "200 ip-${IP1//./-} "
waiter "wait target-deregistered" target-deregistered --target-group-arn "$TGWEB" --targets "Id=$I2"
call "DescribeTargetHealth after the drain" describe-target-health --target-group-arn "$TGWEB" &&
	jt "after the delay the target is gone" 'health(d) == [(E["I1"], "healthy", None)]'
err "DeregisterTargets unknown instance -> InvalidTarget" InvalidTarget \
	deregister-targets --target-group-arn "$TGWEB" --targets Id=i-0123456789abcdef0

# ---------------------------------------------------------------- tags, rules
call "DescribeTags" describe-tags --resource-arns "$LBA" "$TGWEB" "$L80" &&
	jt "DescribeTags: the tags given at creation" \
		'{t["ResourceArn"]: tags(t) for t in d["TagDescriptions"]} == {E["LBA"]: {"team": "web", "tier": "front"}, E["TGWEB"]: {"team": "web"}, E["L80"]: {"role": "prod"}}'
call "AddTags" add-tags --resource-arns "$LBA" "$TGWEB" "$L80" --tags Key=env,Value=test Key=team,Value=ops
call "DescribeTags after AddTags" describe-tags --resource-arns "$LBA" "$TGWEB" "$L80" &&
	jt "AddTags adds and overwrites" \
		'{t["ResourceArn"]: tags(t) for t in d["TagDescriptions"]} == {E["LBA"]: {"team": "ops", "tier": "front", "env": "test"}, E["TGWEB"]: {"team": "ops", "env": "test"}, E["L80"]: {"role": "prod", "env": "test", "team": "ops"}}'
call "RemoveTags" remove-tags --resource-arns "$LBA" "$L80" --tag-keys env team
call "DescribeTags after RemoveTags" describe-tags --resource-arns "$LBA" "$TGWEB" "$L80" &&
	jt "RemoveTags removes those keys only" \
		'{t["ResourceArn"]: tags(t) for t in d["TagDescriptions"]} == {E["LBA"]: {"tier": "front"}, E["TGWEB"]: {"team": "ops", "env": "test"}, E["L80"]: {"role": "prod"}}'
err "DescribeTags unknown load balancer -> LoadBalancerNotFound" LoadBalancerNotFound \
	describe-tags --resource-arns "${LBA%/*}/0123456789abcdef"
err "DescribeTags with no ARN -> ValidationError" ValidationError describe-tags --resource-arns "$LBA" elb-a
err "AddTags unknown target group -> TargetGroupNotFound" TargetGroupNotFound \
	add-tags --resource-arns "${TGWEB%/*}/0123456789abcdef" --tags Key=a,Value=b
err "RemoveTags unknown listener -> ListenerNotFound" ListenerNotFound \
	remove-tags --resource-arns "${L80%/*}/0123456789abcdef" --tag-keys a
many=()
for i in $(seq 1 50); do many+=("Key=k$i,Value=v"); done
err "AddTags past 50 tags -> TooManyTags" TooManyTags add-tags --resource-arns "$TGWEB" --tags "${many[@]}"
err "AddTags the same key twice -> DuplicateTagKeys" DuplicateTagKeys add-tags --resource-arns "$TGWEB" --tags Key=a,Value=1 Key=a,Value=2
# Listener rules: every operation answers one clear error, and nothing changes.
RULE="${L80/:listener\//:listener-rule\/}/0123456789abcdef"
rule_ops=(
	"CreateRule|create-rule --listener-arn $L80 --priority 1 --conditions Field=path-pattern,Values=/x --actions Type=forward,TargetGroupArn=$TGWEB"
	"DescribeRules|describe-rules --listener-arn $L80"
	"ModifyRule|modify-rule --rule-arn $RULE --actions Type=forward,TargetGroupArn=$TGWEB"
	"DeleteRule|delete-rule --rule-arn $RULE"
	"SetRulePriorities|set-rule-priorities --rule-priorities RuleArn=$RULE,Priority=2"
)
for op in "${rule_ops[@]}"; do
	name=${op%%|*}
	# shellcheck disable=SC2086 # the arguments are words without blanks
	if cli elbv2 ${op#*|}; then
		bad "$name answers a clear error" "succeeded: $(head -c 200 "$tmp/out")"
	elif grep -q "An error occurred (UnsupportedOperation) when calling the $name operation.*rules are not supported" "$tmp/err"; then
		ok "$name answers a clear error"
	else
		bad "$name answers a clear error" "$(head -c 300 "$tmp/err")"
	fi
done
call "DescribeListeners after the rules' operations" describe-listeners --listener-arns "$L80" &&
	jt "the listener kept its forward action" '[a.get("TargetGroupArn") for a in d["Listeners"][0]["DefaultActions"]] == [E["TGWEB"]]'

# ---------------------------------------------------------------- deleting
call "DeleteListener" delete-listener --listener-arn "$L81"
call "DescribeListeners after DeleteListener" describe-listeners --load-balancer-arn "$LBA" &&
	jt "DeleteListener removed it" 'sorted(l["Port"] for l in d["Listeners"]) == [80, 83, 84]'
err "DeleteListener again -> ListenerNotFound" ListenerNotFound delete-listener --listener-arn "$L81"
call "DescribeTargetHealth (group left the listeners)" describe-target-health --target-group-arn "$TGBAD" --targets "Id=$I1" &&
	jt "a group no listener uses any more: unused/Target.NotInUse" 'health(d) == [(E["I1"], "unused", "Target.NotInUse")]'
call "DeleteTargetGroup (unused)" delete-target-group --target-group-arn "$TGBAD"
err "DeleteTargetGroup removed it" TargetGroupNotFound describe-target-groups --target-group-arns "$TGBAD"
idb=${LBB##*/}
call "DeleteLoadBalancer" delete-load-balancer --load-balancer-arn "$LBB"
waiter "wait load-balancers-deleted" load-balancers-deleted --load-balancer-arns "$LBB"
if ip -o addr show | grep -q " $DNSB/"; then bad "a deleted load balancer's address leaves the bridge" "$DNSB still there"; else ok "a deleted load balancer's address leaves the bridge"; fi
if pgrep -f "lbs/$idb/" >/dev/null; then bad "a deleted load balancer's HAProxy stops" "$(pgrep -af "lbs/$idb/")"; else ok "a deleted load balancer's HAProxy stops"; fi
call "DeleteLoadBalancer that is gone succeeds" delete-load-balancer --load-balancer-arn "$LBB"

# With listeners and a group in use: the listeners go with it, the group is free.
call "DeleteLoadBalancer (with listeners)" delete-load-balancer --load-balancer-arn "$LBA"
waiter "wait load-balancers-deleted (with listeners)" load-balancers-deleted --load-balancer-arns "$LBA"
err "its listeners went with it -> ListenerNotFound" ListenerNotFound describe-listeners --listener-arns "$L80"
call "DescribeTargetGroups after its load balancer went" describe-target-groups --target-group-arns "$TGWEB" &&
	jt "the group is used by no load balancer" 'd["TargetGroups"][0]["LoadBalancerArns"] == []'
case $(get "http://$DNSA/") in "000 "*) ok "a deleted load balancer answers no more" ;;
*) bad "a deleted load balancer answers no more" "$(get "http://$DNSA/")" ;; esac
call "DeleteTargetGroup (freed)" delete-target-group --target-group-arn "$TGWEB"
call "DeleteLoadBalancer (third)" delete-load-balancer --load-balancer-arn "$LBC"
call "DeleteTargetGroup (defaults)" delete-target-group --target-group-arn "$TGDEF"
call "DescribeLoadBalancers at the end" describe-load-balancers &&
	jt "no load balancer left" 'd["LoadBalancers"] == []'

# ---------------------------------------------------------------- kiln's own client
# Its scenario lists every load balancer and group: it runs on an empty cloud.
export AWS_ENDPOINT_URL=$EP AWS_REGION=us-east-1 KILN_TEST_GROUP=$SG KILN_TEST_INSTANCES="$I1 $I2"
if "$AWS_CALL" elbv2 >"$tmp/aws_call.out" 2>"$tmp/aws_call.err"; then
	ok "aws_call elbv2: kiln's ELBv2 calls round-trip ($(grep -c '^ok ' "$tmp/aws_call.out") checks)"
else
	bad "aws_call elbv2" "$(grep -v '^ok ' "$tmp/aws_call.out" | head -c 400) $(tail -c 400 "$tmp/aws_call.err")"
fi
unset AWS_ENDPOINT_URL

awscli_summary
