#!/bin/bash
# Conformance of `kiln cloud` with the real AWS CLI v2 (the first `aws` on PATH
# that is version 2; Debian's awscli package installs it): every EC2
# operation of the local cloud driven through the CLI with --endpoint-url, its
# JSON output checked, its waiters (instance-running, instance-stopped,
# image-available) run, error codes read from the CLI's own message
# "An error occurred (CODE)". Real machines: SSH in with OpenSSH, the host key
# checked against the console's fingerprints; a file written, the instance
# stopped and imaged, the file found on an instance of the new image; user data
# runs once across a stop and start; an instance powering itself off under
# InstanceInitiatedShutdownBehavior=terminate ends terminated; kill -9 of the
# daemon loses nothing and brings running instances back.
#
# One line per check ("ok NAME" / "FAIL NAME: why"); exit 1 on any failure.
# LC_API_ONLY=1 LC_ENDPOINT=http://127.0.0.1:5999: API parts only, against an
# already running endpoint (moto_server), for developing this script; no root,
# no daemon, no machines.
set -u
# A missing tool skips the test on a developer's machine; in CI (CI set) it
# fails it: the conformance client must not silently go missing.
. "$(dirname "$0")/../fixtures/awscli.sh"
API_ONLY=${LC_API_ONLY:-0}
PORT=4611
CIDR=10.214.1.0/24
NET_PREFIX=10.214.1.
export CIDR
if [ "$API_ONLY" = 1 ]; then
	EP=${LC_ENDPOINT:-http://127.0.0.1:5999}
else
	[ "$(id -u)" = 0 ] || missing "needs root"
	for tool in ssh ssh-keygen ssh-keyscan openssl; do
		command -v "$tool" >/dev/null || missing "no $tool"
	done
	KILN_BIN=${KILN_BIN:?}
	EP=http://127.0.0.1:$PORT
	# Other checkouts of kiln on this machine run this test too: one at a
	# time on this address range and port.
	exec 9>/tmp/kiln-test-net-10.214.1.lock
	flock -w 900 9 || { echo "FAIL: 10.214.1.0/24 stayed busy" >&2; exit 1; }
fi

awscli_start lcaws

# ec2 ARGS...: the CLI, stdout in $tmp/out, stderr in $tmp/err.
ec2() { cli ec2 "$@"; }
# call NAME ARGS...: the CLI must succeed.
call() { call_in ec2 "$@"; }
# err NAME CODE ARGS...: the CLI must fail with "An error occurred (CODE)".
err() { err_in ec2 "$@"; }
# waiter NAME WAITER ARGS...: `aws ec2 wait`, bounded to 300 s.
waiter() { wait_in ec2 "$@"; }

PYPRE='
import base64, fnmatch
def insts(d):
    return [i for r in d.get("Reservations", []) for i in r.get("Instances", [])]
def iids(d):
    return sorted(i["InstanceId"] for i in insts(d))
def tags(x):
    return {t["Key"]: t.get("Value", "") for t in x.get("Tags", [])}
'
# state ID: the instance's state name.
state() {
	ec2 describe-instances --instance-ids "$1" && j 'insts(d)[0]["State"]["Name"]'
}

# wait_state NAME ID STATE SECONDS: poll DescribeInstances, bounded.
wait_state() {
	local name=$1 id=$2 want=$3 n=$4 i s=
	for ((i = 0; i < n; i++)); do
		s=$(state "$id")
		[ "$s" = "$want" ] && { ok "$name"; return 0; }
		sleep 1
	done
	bad "$name" "$id is '$s' after $n s, want $want"
	return 1
}

# ---------------------------------------------------------------- setup
if [ "$API_ONLY" != 1 ]; then
	"$KILN_BIN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >"$tmp/up.out" 2>&1 ||
		{ echo "FAIL cloud up: $(cat "$tmp/up.out")"; exit 1; }
	ok "kiln cloud up"
	[ -s "$STATE/cloud.pid" ] && ok "pid file written" || bad "pid file written" "no $STATE/cloud.pid"
	# Same port (the only one this test may use): the refusal must name the
	# running daemon, not a busy port.
	if "$KILN_BIN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >"$tmp/up-twice.out" 2>&1; then
		bad "kiln cloud up refuses a second daemon on one state directory" "exit 0: $(cat "$tmp/up-twice.out")"
		exit 1
	elif grep -qi "already" "$tmp/up-twice.out"; then
		ok "kiln cloud up refuses a second daemon on one state directory"
	else
		bad "kiln cloud up refuses a second daemon on one state directory" "message: $(cat "$tmp/up-twice.out")"
	fi
	"$KILN_BIN" cloud image debootstrap base --state-dir "$STATE" >"$tmp/base.out" 2>"$tmp/base.err" ||
		{ echo "FAIL cloud image debootstrap: $(cat "$tmp/base.err")"; exit 1; }
	BASE=$(tail -n 1 "$tmp/base.out" | tr -d '[:space:]')
	case $BASE in ami-*) ok "base image $BASE" ;; *) bad "base image" "stdout: $(cat "$tmp/base.out")"; exit 1 ;; esac
else
	ec2 describe-images >/dev/null && BASE=$(j 'd["Images"][0]["ImageId"]')
	echo "(api only: base image $BASE from $EP)"
fi
export BASE

# ---------------------------------------------------------------- auth
if AWS_SECRET_ACCESS_KEY=wrong ec2 describe-regions; then
	bad "bad secret -> SignatureDoesNotMatch" "succeeded"
else
	grep -qF "An error occurred (SignatureDoesNotMatch)" "$tmp/err" && ok "bad secret -> SignatureDoesNotMatch" ||
		bad "bad secret -> SignatureDoesNotMatch" "CLI printed: $(head -c 300 "$tmp/err")"
fi
if AWS_ACCESS_KEY_ID=AKIANOBODY000000000 ec2 describe-regions; then
	bad "unknown key -> AuthFailure" "succeeded"
else
	grep -qF "An error occurred (AuthFailure)" "$tmp/err" && ok "unknown key -> AuthFailure" ||
		bad "unknown key -> AuthFailure" "CLI printed: $(head -c 300 "$tmp/err")"
fi

# ---------------------------------------------------------------- describe basics
call DescribeRegions describe-regions &&
	jt "DescribeRegions lists us-east-1 with an endpoint" \
		'any(r["RegionName"] == "us-east-1" and r.get("Endpoint") for r in d["Regions"])'
call DescribeRegions describe-regions --region-names us-east-1 &&
	jt "DescribeRegions --region-names" '[r["RegionName"] for r in d["Regions"]] == ["us-east-1"]'
call DescribeAvailabilityZones describe-availability-zones &&
	jt "DescribeAvailabilityZones a/b/c available" \
		'sorted(z["ZoneName"] for z in d["AvailabilityZones"]) == ["us-east-1a","us-east-1b","us-east-1c"] and all(z["State"] == "available" and z["RegionName"] == "us-east-1" and z.get("ZoneId") for z in d["AvailabilityZones"])'
call DescribeAccountAttributes describe-account-attributes &&
	jt "DescribeAccountAttributes has attributes with values" \
		'len(d["AccountAttributes"]) > 0 and all(a["AttributeName"] and a["AttributeValues"] for a in d["AccountAttributes"])'
call DescribeVpcs describe-vpcs &&
	jt "DescribeVpcs: one default VPC" 'sum(1 for v in d["Vpcs"] if v.get("IsDefault")) == 1'
VPC=$(j '[v["VpcId"] for v in d["Vpcs"] if v.get("IsDefault")][0]')
[ "$API_ONLY" = 1 ] || jt "default VPC on --cidr $CIDR, available" \
	'[(v["CidrBlock"], v["State"]) for v in d["Vpcs"] if v.get("IsDefault")] == [(E["CIDR"], "available")]'
export VPC
call DescribeSubnets describe-subnets --filters "Name=vpc-id,Values=$VPC" &&
	jt "DescribeSubnets: one default subnet per AZ a/b/c in the VPC" \
		'sorted(s["AvailabilityZone"] for s in d["Subnets"] if s.get("DefaultForAz")) == ["us-east-1a","us-east-1b","us-east-1c"] and all(s["VpcId"] == E["VPC"] and s["State"] == "available" and s["SubnetId"].startswith("subnet-") for s in d["Subnets"])'
SUBNET=$(j '[s["SubnetId"] for s in d["Subnets"] if s.get("AvailabilityZone") == "us-east-1a"][0]')
if [ "$API_ONLY" != 1 ]; then
	jt "subnets inside $CIDR" 'all(__import__("ipaddress").ip_network(s["CidrBlock"]).subnet_of(__import__("ipaddress").ip_network(E["CIDR"])) for s in d["Subnets"])'
fi
export SUBNET
call "DescribeSubnets --subnet-ids" describe-subnets --subnet-ids "$SUBNET" &&
	jt "DescribeSubnets --subnet-ids" '[s["SubnetId"] for s in d["Subnets"]] == [E["SUBNET"]]'

# ---------------------------------------------------------------- key pairs
ssh-keygen -q -t ed25519 -N '' -C imported -f "$tmp/imported" || exit 1
call "CreateKeyPair rsa pem" create-key-pair --key-name k-rsa --key-type rsa --key-format pem \
	--tag-specifications 'ResourceType=key-pair,Tags=[{Key=team,Value=blue}]' &&
	jt "CreateKeyPair rsa: PEM RSA key, id, fingerprint, tags" \
		'd["KeyName"] == "k-rsa" and d["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----") and d["KeyPairId"].startswith("key-") and d["KeyFingerprint"] and tags(d) == {"team": "blue"}'
j 'd["KeyMaterial"]' >"$tmp/k-rsa"
chmod 600 "$tmp/k-rsa"
if ssh-keygen -y -f "$tmp/k-rsa" >"$tmp/k-rsa.pub" 2>/dev/null && grep -q '^ssh-rsa ' "$tmp/k-rsa.pub"; then
	ok "rsa key material usable by ssh-keygen"
else
	bad "rsa key material usable by ssh-keygen" "$(head -c 200 "$tmp/k-rsa")"
fi
# EC2: a created RSA key's fingerprint is the SHA-1 of its PKCS#8 DER private key.
want=$(openssl pkcs8 -topk8 -nocrypt -in "$tmp/k-rsa" -outform DER 2>/dev/null | openssl sha1 -c 2>/dev/null | awk '{print $NF}')
eq "CreateKeyPair rsa fingerprint = SHA-1 of PKCS#8 DER (as EC2)" "$(j 'd["KeyFingerprint"]')" "$want"

call "CreateKeyPair ed25519" create-key-pair --key-name k-ed --key-type ed25519 &&
	jt "CreateKeyPair ed25519: OpenSSH private key" \
		'd["KeyName"] == "k-ed" and d["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----") and d["KeyPairId"].startswith("key-")'
j 'd["KeyMaterial"]' >"$tmp/k-ed"
chmod 600 "$tmp/k-ed"
if ssh-keygen -y -f "$tmp/k-ed" >"$tmp/k-ed.pub" 2>/dev/null && grep -q '^ssh-ed25519 ' "$tmp/k-ed.pub"; then
	ok "ed25519 key material usable by ssh-keygen"
else
	bad "ed25519 key material usable by ssh-keygen" "$(head -c 200 "$tmp/k-ed")"
fi
# EC2: an ed25519 fingerprint is the base64 SHA-256 of the public key (padded).
want=$(ssh-keygen -lf "$tmp/k-ed.pub" | awk '{sub(/^SHA256:/, "", $2); print $2}')
got=$(j 'd["KeyFingerprint"]')
eq "CreateKeyPair ed25519 fingerprint = SHA256 of public key" "${got%=}" "$want"

call "CreateKeyPair ed25519 --key-format pem" create-key-pair --key-name k-ed-pem --key-type ed25519 --key-format pem &&
	jt "CreateKeyPair ed25519 --key-format pem: OpenSSH key (as EC2)" \
		'd["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")'
call "CreateKeyPair default type" create-key-pair --key-name k-default &&
	jt "CreateKeyPair default type is rsa, PEM" 'd["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")'
call "ImportKeyPair" import-key-pair --key-name k-imp --public-key-material "fileb://$tmp/imported.pub" \
	--tag-specifications 'ResourceType=key-pair,Tags=[{Key=team,Value=red}]' &&
	jt "ImportKeyPair: name, id, fingerprint" \
		'd["KeyName"] == "k-imp" and d.get("KeyPairId", "").startswith("key-") and d["KeyFingerprint"]'
want=$(ssh-keygen -lf "$tmp/imported.pub" | awk '{sub(/^SHA256:/, "", $2); print $2}')
got=$(j 'd["KeyFingerprint"]')
eq "ImportKeyPair ed25519 fingerprint = SHA256 of public key" "${got%=}" "$want"
# EC2: an imported RSA key's fingerprint is the MD5 of its DER public key.
ssh-keygen -q -t rsa -b 2048 -N '' -C imported-rsa -f "$tmp/imported-rsa" || exit 1
call "ImportKeyPair rsa" import-key-pair --key-name k-imp-rsa --public-key-material "fileb://$tmp/imported-rsa.pub"
want=$(ssh-keygen -e -m PKCS8 -f "$tmp/imported-rsa.pub" 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | openssl md5 -c 2>/dev/null | awk '{print $NF}')
eq "ImportKeyPair rsa fingerprint = MD5 of DER public key (as EC2)" "$(j 'd["KeyFingerprint"]')" "$want"
call "DeleteKeyPair (imported rsa)" delete-key-pair --key-name k-imp-rsa
err "CreateKeyPair duplicate -> InvalidKeyPair.Duplicate" InvalidKeyPair.Duplicate create-key-pair --key-name k-rsa
err "ImportKeyPair duplicate -> InvalidKeyPair.Duplicate" InvalidKeyPair.Duplicate \
	import-key-pair --key-name k-imp --public-key-material "fileb://$tmp/imported.pub"
printf 'not a key' >"$tmp/garbage.pub"
err "ImportKeyPair garbage -> InvalidKey.Format" InvalidKey.Format \
	import-key-pair --key-name k-garbage --public-key-material "fileb://$tmp/garbage.pub"
call DescribeKeyPairs describe-key-pairs &&
	jt "DescribeKeyPairs lists all, with types and ids" \
		'{k["KeyName"]: k.get("KeyType") for k in d["KeyPairs"]} == {"k-rsa": "rsa", "k-ed": "ed25519", "k-ed-pem": "ed25519", "k-default": "rsa", "k-imp": "ed25519"} and all(k["KeyPairId"].startswith("key-") and k["KeyFingerprint"] for k in d["KeyPairs"])'
jt "DescribeKeyPairs carries no private key" 'all("KeyMaterial" not in k for k in d["KeyPairs"])'
call "DescribeKeyPairs --key-names" describe-key-pairs --key-names k-rsa k-imp &&
	jt "DescribeKeyPairs --key-names: tags" \
		'{k["KeyName"]: tags(k) for k in d["KeyPairs"]} == {"k-rsa": {"team": "blue"}, "k-imp": {"team": "red"}}'
call "DescribeKeyPairs --filters key-name" describe-key-pairs --filters Name=key-name,Values=k-ed* &&
	jt "DescribeKeyPairs key-name filter with *" 'sorted(k["KeyName"] for k in d["KeyPairs"]) == ["k-ed", "k-ed-pem"]'
call "DescribeKeyPairs --filters tag:team" describe-key-pairs --filters Name=tag:team,Values=red &&
	jt "DescribeKeyPairs tag:team filter" '[k["KeyName"] for k in d["KeyPairs"]] == ["k-imp"]'
err "DescribeKeyPairs unknown -> InvalidKeyPair.NotFound" InvalidKeyPair.NotFound describe-key-pairs --key-names nosuch
call "DeleteKeyPair" delete-key-pair --key-name k-default &&
	call "DescribeKeyPairs after delete" describe-key-pairs &&
	jt "DeleteKeyPair removed it" 'all(k["KeyName"] != "k-default" for k in d["KeyPairs"])'
call "DeleteKeyPair --key-pair-id" describe-key-pairs --key-names k-ed-pem &&
	KPID=$(j 'd["KeyPairs"][0]["KeyPairId"]') && call "DeleteKeyPair --key-pair-id" delete-key-pair --key-pair-id "$KPID" &&
	err "DeleteKeyPair by id removed it" InvalidKeyPair.NotFound describe-key-pairs --key-names k-ed-pem

# ---------------------------------------------------------------- security groups
call "DescribeSecurityGroups" describe-security-groups &&
	jt "DescribeSecurityGroups: default group of the default VPC" \
		'any(g["GroupName"] == "default" and g["VpcId"] == E["VPC"] and g["GroupId"].startswith("sg-") and g["OwnerId"] for g in d["SecurityGroups"])'
call "CreateSecurityGroup" create-security-group --group-name web --description "web servers" --vpc-id "$VPC" \
	--tag-specifications 'ResourceType=security-group,Tags=[{Key=tier,Value=web}]' &&
	jt "CreateSecurityGroup returns sg-" 'd["GroupId"].startswith("sg-")'
SG=$(j 'd["GroupId"]')
export SG
err "CreateSecurityGroup duplicate -> InvalidGroup.Duplicate" InvalidGroup.Duplicate \
	create-security-group --group-name web --description again --vpc-id "$VPC"
call "CreateSecurityGroup (spare)" create-security-group --group-name spare --description "spare group"
SG2=$(j 'd["GroupId"]')
call "AuthorizeSecurityGroupIngress --port" authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 22 --cidr 0.0.0.0/0
call "AuthorizeSecurityGroupIngress --ip-permissions" authorize-security-group-ingress --group-id "$SG" \
	--ip-permissions 'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=10.0.0.0/8,Description=http}]'
err "AuthorizeSecurityGroupIngress duplicate rule -> InvalidPermission.Duplicate" InvalidPermission.Duplicate \
	authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 22 --cidr 0.0.0.0/0
call "AuthorizeSecurityGroupEgress" authorize-security-group-egress --group-id "$SG" \
	--ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=192.0.2.0/24}]'
call "DescribeSecurityGroups --group-ids" describe-security-groups --group-ids "$SG" &&
	jt "ingress rules 22 and 80 stored" \
		'sorted((p["IpProtocol"], p["FromPort"], p["ToPort"], tuple(r["CidrIp"] for r in p["IpRanges"])) for p in d["SecurityGroups"][0]["IpPermissions"]) == [("tcp", 22, 22, ("0.0.0.0/0",)), ("tcp", 80, 80, ("10.0.0.0/8",))]'
jt "egress rule 443 stored" \
	'any(p["IpProtocol"] == "tcp" and p.get("FromPort") == 443 and [r["CidrIp"] for r in p["IpRanges"]] == ["192.0.2.0/24"] for p in d["SecurityGroups"][0]["IpPermissionsEgress"])'
jt "security group: name, description, VPC, tags" \
	'(lambda g: g["GroupName"] == "web" and g["Description"] == "web servers" and g["VpcId"] == E["VPC"] and tags(g) == {"tier": "web"})(d["SecurityGroups"][0])'
call "RevokeSecurityGroupIngress" revoke-security-group-ingress --group-id "$SG" \
	--ip-permissions 'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=10.0.0.0/8}]'
DEFAULT_SG=$(ec2 describe-security-groups --group-names default && j 'd["SecurityGroups"][0]["GroupId"]')
export DEFAULT_SG
call "AuthorizeSecurityGroupIngress --source-group" authorize-security-group-ingress --group-id "$SG" \
	--protocol tcp --port 8080 --source-group "$DEFAULT_SG"
call "DescribeSecurityGroups (source group)" describe-security-groups --group-ids "$SG" &&
	jt "ingress from a source group stored as UserIdGroupPairs" \
		'any(p.get("FromPort") == 8080 and [g["GroupId"] for g in p.get("UserIdGroupPairs", [])] == [E["DEFAULT_SG"]] for p in d["SecurityGroups"][0]["IpPermissions"])'
call "RevokeSecurityGroupIngress --source-group" revoke-security-group-ingress --group-id "$SG" \
	--protocol tcp --port 8080 --source-group "$DEFAULT_SG"
err "DeleteSecurityGroup default -> CannotDelete" CannotDelete delete-security-group --group-id "$DEFAULT_SG"
err "CreateTags with an aws: key -> InvalidParameterValue" InvalidParameterValue \
	create-tags --resources "$SG" --tags Key=aws:reserved,Value=x
call "DescribeSecurityGroups after revoke" describe-security-groups --group-ids "$SG" &&
	jt "RevokeSecurityGroupIngress removed port 80 only" \
		'[(p["FromPort"], p["ToPort"]) for p in d["SecurityGroups"][0]["IpPermissions"]] == [(22, 22)]'
call "DescribeSecurityGroups --group-names" describe-security-groups --group-names web &&
	jt "DescribeSecurityGroups --group-names" '[g["GroupId"] for g in d["SecurityGroups"]] == [E["SG"]]'
call "DescribeSecurityGroups --filters group-name" describe-security-groups --filters Name=group-name,Values=web,spare &&
	jt "DescribeSecurityGroups group-name filter" 'sorted(g["GroupName"] for g in d["SecurityGroups"]) == ["spare", "web"]'
err "DescribeSecurityGroups unknown -> InvalidGroup.NotFound" InvalidGroup.NotFound \
	describe-security-groups --group-ids sg-0123456789abcdef0
call "DeleteSecurityGroup (spare)" delete-security-group --group-id "$SG2" &&
	err "DeleteSecurityGroup removed it" InvalidGroup.NotFound describe-security-groups --group-ids "$SG2"

# ---------------------------------------------------------------- images, errors
call "DescribeImages --image-ids base" describe-images --image-ids "$BASE" &&
	jt "base image available, with an owner" \
		'(lambda i: i["ImageId"] == E["BASE"] and i["State"] == "available" and i["OwnerId"] and i.get("Name"))(d["Images"][0])'
BASE_NAME=$(j 'd["Images"][0]["Name"]')
export BASE_NAME
if [ "$API_ONLY" != 1 ]; then
	jt "base image owned by account 000000000000, root device" \
		'(lambda i: i["OwnerId"] == "000000000000" and i.get("RootDeviceName") and i.get("Architecture") == "x86_64")(d["Images"][0])'
	call "DescribeImages --owners self" describe-images --owners self &&
		jt "DescribeImages --owners self lists the base image" 'E["BASE"] in [i["ImageId"] for i in d["Images"]]'
fi
err "DescribeImages unknown -> InvalidAMIID.NotFound" InvalidAMIID.NotFound describe-images --image-ids ami-0123456789abcdef0
err "RunInstances unknown image -> InvalidAMIID.NotFound" InvalidAMIID.NotFound \
	run-instances --image-id ami-0123456789abcdef0 --instance-type t3.micro
err "DescribeInstances unknown -> InvalidInstanceID.NotFound" InvalidInstanceID.NotFound \
	describe-instances --instance-ids i-0123456789abcdef0
err "StopInstances unknown -> InvalidInstanceID.NotFound" InvalidInstanceID.NotFound \
	stop-instances --instance-ids i-0123456789abcdef0
err "DescribeInstances malformed id -> InvalidInstanceID.Malformed" InvalidInstanceID.Malformed \
	describe-instances --instance-ids not-an-id
err "RunInstances without ImageId -> MissingParameter" MissingParameter run-instances --instance-type t3.micro
err "RunInstances bad InstanceType -> InvalidParameterValue" InvalidParameterValue \
	run-instances --image-id "$BASE" --instance-type no.such.type
err "DescribeInstances MaxResults 1 -> InvalidParameterValue" InvalidParameterValue \
	describe-instances --max-results 1
# Beyond issue 4's list, but any EC2 client may send it: DryRun.
err "DescribeInstances --dry-run -> DryRunOperation" DryRunOperation describe-instances --dry-run
err "RunInstances --dry-run -> DryRunOperation" DryRunOperation \
	run-instances --image-id "$BASE" --instance-type t3.micro --dry-run \
	--tag-specifications 'ResourceType=instance,Tags=[{Key=dry,Value=run}]'
call "DescribeInstances tag:dry" describe-instances --filters Name=tag:dry,Values=run &&
	jt "RunInstances --dry-run launched nothing" 'iids(d) == []'
err "DescribeInstances unknown filter -> InvalidParameterValue" InvalidParameterValue \
	describe-instances --filters Name=no-such-filter,Values=x
err "DescribeInstances ids with MaxResults -> InvalidParameterCombination" InvalidParameterCombination \
	describe-instances --instance-ids i-0123456789abcdef0 --max-results 5 --no-paginate
err "RunInstances MinCount > MaxCount -> InvalidParameterValue" InvalidParameterValue \
	run-instances --image-id "$BASE" --instance-type t3.micro --count 3:2
AWS_CONFIG_FILE=$tmp/aws-config-novalidate err "CreateSecurityGroup without description -> MissingParameter" \
	MissingParameter create-security-group --cli-input-json '{"GroupName": "nodesc"}'
AWS_CONFIG_FILE=$tmp/aws-config-novalidate err "CreateKeyPair without KeyName -> MissingParameter" \
	MissingParameter create-key-pair --cli-input-json '{}'

# ---------------------------------------------------------------- first instance
printf '#!/bin/sh\necho "user data ran on $(hostname)"\necho ran >> /root/ud-count\n' >"$tmp/ud.sh"
run_args=(--image-id "$BASE" --instance-type t3.micro --count 1 --key-name k-ed
	--security-group-ids "$SG" --subnet-id "$SUBNET" --user-data "file://$tmp/ud.sh"
	--tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=one},{Key=role,Value=web}]'
	--block-device-mappings '[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":8,"DeleteOnTermination":true}}]')
call "RunInstances" run-instances "${run_args[@]}" --client-token tok-one || { echo "cannot continue"; exit 1; }
I1=$(j 'd["Instances"][0]["InstanceId"]')
R1=$(j 'd["ReservationId"]')
export I1 R1
jt "RunInstances reply: reservation, id, image, type, key, subnet, VPC, state" \
	'(lambda i: d["ReservationId"].startswith("r-") and d["OwnerId"] and i["InstanceId"].startswith("i-") and i["ImageId"] == E["BASE"] and i["InstanceType"] == "t3.micro" and i["KeyName"] == "k-ed" and i["SubnetId"] == E["SUBNET"] and i["VpcId"] == E["VPC"] and i["State"]["Name"] in ("pending", "running") and i["Placement"]["AvailabilityZone"] == "us-east-1a" and i["ClientToken"] == "tok-one" and i["PrivateIpAddress"])(d["Instances"][0])'
jt "RunInstances reply: security group and tags" \
	'(lambda i: [(g["GroupId"], g.get("GroupName")) for g in i["SecurityGroups"]] == [(E["SG"], "web")] and tags(i) == {"Name": "one", "role": "web"})(d["Instances"][0])'
IP1=$(j 'd["Instances"][0]["PrivateIpAddress"]')
export IP1
[ "$API_ONLY" = 1 ] || case $IP1 in "$NET_PREFIX"*) ok "private address $IP1 in $CIDR" ;; *) bad "private address in $CIDR" "$IP1" ;; esac
call "RunInstances same ClientToken" run-instances "${run_args[@]}" --client-token tok-one &&
	jt "ClientToken idempotency: same instance, same reservation" \
		'[i["InstanceId"] for i in d["Instances"]] == [E["I1"]] and d["ReservationId"] == E["R1"]'
err "ClientToken reused with other parameters -> IdempotentParameterMismatch" IdempotentParameterMismatch \
	run-instances --image-id "$BASE" --instance-type t3.small --count 1 --client-token tok-one
call "DescribeInstances (ClientToken)" describe-instances --filters Name=tag:Name,Values=one &&
	jt "ClientToken launched one instance only" '[i["InstanceId"] for i in insts(d)] == [E["I1"]]'
waiter "wait instance-running" instance-running --instance-ids "$I1"
call "DescribeInstances --instance-ids" describe-instances --instance-ids "$I1" &&
	jt "DescribeInstances: running, launch time, private DNS name, reservation" \
		'(lambda i: i["State"] == {"Code": 16, "Name": "running"} and i["LaunchTime"] and i.get("PrivateDnsName", "").startswith("ip-") and d["Reservations"][0]["ReservationId"] == E["R1"])(insts(d)[0])'

# DescribeInstances filters.
dfilter() { # NAME FILTER... ; I1 must be in the result and nothing unexpected
	local name=$1
	shift
	call "DescribeInstances $name" describe-instances --filters "$@" &&
		jt "DescribeInstances filter $name" 'E["I1"] in iids(d)'
}
dfilter instance-state-name Name=instance-state-name,Values=running
dfilter tag:role Name=tag:role,Values=web
dfilter tag-key Name=tag-key,Values=role
dfilter image-id "Name=image-id,Values=$BASE"
dfilter private-ip-address "Name=private-ip-address,Values=$IP1"
dfilter "two filters (AND)" Name=tag:role,Values=web Name=instance-state-name,Values=pending,running
call "DescribeInstances filter excludes" describe-instances --filters Name=instance-state-name,Values=stopped Name=tag:Name,Values=one &&
	jt "DescribeInstances filters exclude (stopped AND Name=one: none)" 'iids(d) == []'
call "DescribeInstances tag:role other value" describe-instances --filters Name=tag:role,Values=db &&
	jt "DescribeInstances tag:role=db excludes" 'E["I1"] not in iids(d)'
call "DescribeInstances tag-key absent" describe-instances --filters Name=tag-key,Values=nosuchkey &&
	jt "DescribeInstances tag-key=nosuchkey: none" 'iids(d) == []'
call "DescribeInstanceStatus" describe-instance-status --instance-ids "$I1" &&
	jt "DescribeInstanceStatus: running, AZ" \
		'(lambda s: s["InstanceId"] == E["I1"] and s["InstanceState"]["Name"] == "running" and s["AvailabilityZone"] == "us-east-1a")(d["InstanceStatuses"][0])'
if [ "$(j 'd["InstanceStatuses"][0].get("InstanceStatus", {}).get("Status") in ("ok", "initializing")')" = true ]; then
	waiter "wait instance-status-ok" instance-status-ok --instance-ids "$I1"
else
	bad "wait instance-status-ok" "no InstanceStatus.Status in DescribeInstanceStatus: $(head -c 300 "$tmp/out" | tr '\n' ' ')"
fi

# Console and SSH.
fingerprints() { # ID -> sorted SHA256 fingerprints of the last block on the console
	ec2 get-console-output --instance-id "$1" || return 1
	j 'd.get("Output") or ""' >"$tmp/console"
	awk '/-----BEGIN SSH HOST KEY FINGERPRINTS-----/ {b=""; next}
	     /-----END SSH HOST KEY FINGERPRINTS-----/ {last=b; next}
	     {b = b $2 "\n"} END {printf "%s", last}' "$tmp/console" | sort
}
# console_ready NAME ID: the fingerprints block is on the console (bounded 60 s).
console_ready() {
	local i
	for i in $(seq 1 60); do
		[ -n "$(fingerprints "$2")" ] && { ok "$1"; return 0; }
		sleep 1
	done
	bad "$1" "no fingerprint block on the console of $2 after 60 s: $(tail -c 400 "$tmp/console" | tr '\n' ' ')"
	return 1
}
wait_banner() { # IP, bounded to 60 s
	local i
	for i in $(seq 1 120); do
		[ "$(timeout 2 bash -c "exec 3<>/dev/tcp/$1/22 && head -c 7 <&3" 2>/dev/null)" = SSH-2.0 ] && return 0
		sleep 0.5
	done
	return 1
}
# known_hosts NAME ID IP FILE: scanned host keys, each checked against the console.
known_hosts() {
	local name=$1 id=$2 ip=$3 file=$4 want line fp n=0
	want=$(fingerprints "$id")
	[ -n "$want" ] || { bad "$name" "no fingerprints on the console"; return 1; }
	ssh-keyscan -T 5 "$ip" 2>/dev/null >"$tmp/scan"
	: >"$file"
	while read -r line; do
		fp=$(echo "$line" | ssh-keygen -lf - | awk '{print $2}')
		if ! echo "$want" | grep -qxF "$fp"; then
			bad "$name" "host key $fp of $ip is not on the console of $id"
			: >"$file"
			return 1
		fi
		echo "$line" >>"$file"
		n=$((n + 1))
	done <"$tmp/scan"
	[ "$n" -gt 0 ] || { bad "$name" "ssh-keyscan $ip found no key"; return 1; }
	ok "$name ($n keys)"
}
on() { # KEY KNOWN IP CMD...
	local key=$1 known=$2 ip=$3
	shift 3
	timeout 60 ssh -i "$key" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known" \
		-o ConnectTimeout=5 -o LogLevel=ERROR "root@$ip" "$@"
}

if [ "$API_ONLY" != 1 ]; then
	call "GetConsoleOutput" get-console-output --instance-id "$I1" &&
		jt "GetConsoleOutput: id, timestamp" 'd["InstanceId"] == E["I1"] and d.get("Timestamp")'
	console_ready "GetConsoleOutput shows -----BEGIN SSH HOST KEY FINGERPRINTS-----" "$I1"
	wait_banner "$IP1" && ok "SSH banner on $IP1" || bad "SSH banner on $IP1" "none after 60 s"
	known_hosts "host keys of $I1 match the console" "$I1" "$IP1" "$tmp/known1"
	FP1=$(fingerprints "$I1")
	eq "SSH with the CreateKeyPair ed25519 key: hostname" "$(on "$tmp/k-ed" "$tmp/known1" "$IP1" hostname)" "ip-${IP1//./-}"
	on "$tmp/k-ed" "$tmp/known1" "$IP1" 'echo kept-across-images > /root/marker' &&
		ok "write a file over SSH" || bad "write a file over SSH" "ssh failed"
	eq "user data ran once" "$(on "$tmp/k-ed" "$tmp/known1" "$IP1" cat /root/ud-count)" ran
	grep -q "user data ran on ip-${IP1//./-}" "$tmp/console" && ok "user data output on the console" ||
		bad "user data output on the console" "$(tail -c 300 "$tmp/console")"
	if on "$tmp/k-rsa" "$tmp/known1" "$IP1" true 2>/dev/null; then
		bad "another key pair's key is refused" "k-rsa logged in to an instance launched with k-ed"
	else
		ok "another key pair's key is refused"
	fi
fi

# Stop, start, reboot.
call "StopInstances" stop-instances --instance-ids "$I1" &&
	jt "StopInstances: transition from running to stopping/stopped" \
		'(lambda s: s["InstanceId"] == E["I1"] and s["PreviousState"]["Name"] == "running" and s["CurrentState"]["Name"] in ("stopping", "stopped"))(d["StoppingInstances"][0])'
waiter "wait instance-stopped" instance-stopped --instance-ids "$I1"
call "DescribeInstances stopped" describe-instances --filters Name=instance-state-name,Values=stopped &&
	jt "DescribeInstances instance-state-name=stopped" 'E["I1"] in iids(d)'
call "DescribeInstances stopped state" describe-instances --instance-ids "$I1" &&
	jt "stopped: code 80, private address kept" \
		'insts(d)[0]["State"] == {"Code": 80, "Name": "stopped"} and insts(d)[0]["PrivateIpAddress"] == E["IP1"]'
call "StopInstances on a stopped instance" stop-instances --instance-ids "$I1" &&
	jt "StopInstances on a stopped instance: stopped -> stopped" \
		'[(s["PreviousState"]["Name"], s["CurrentState"]["Name"]) for s in d["StoppingInstances"]] == [("stopped", "stopped")]'
call "DescribeInstanceStatus --include-all-instances" describe-instance-status --instance-ids "$I1" --include-all-instances &&
	jt "DescribeInstanceStatus of a stopped instance" 'd["InstanceStatuses"][0]["InstanceState"]["Name"] == "stopped"'
call "StartInstances" start-instances --instance-ids "$I1" &&
	jt "StartInstances: transition from stopped to pending/running" \
		'(lambda s: s["PreviousState"]["Name"] == "stopped" and s["CurrentState"]["Name"] in ("pending", "running"))(d["StartingInstances"][0])'
waiter "wait instance-running after start" instance-running --instance-ids "$I1"
if [ "$API_ONLY" != 1 ]; then
	wait_banner "$IP1" || bad "SSH banner after start" "none after 60 s"
	eq "file kept across stop/start" "$(on "$tmp/k-ed" "$tmp/known1" "$IP1" cat /root/marker)" kept-across-images
	eq "user data ran once across stop/start" "$(on "$tmp/k-ed" "$tmp/known1" "$IP1" cat /root/ud-count)" ran
	eq "host keys unchanged across stop/start" "$(fingerprints "$I1")" "$FP1"
fi
# PID 1's start time (in clock ticks since the host booted) changes when the machine reboots.
[ "$API_ONLY" = 1 ] || boot1=$(on "$tmp/k-ed" "$tmp/known1" "$IP1" "cut -d' ' -f22 /proc/1/stat")
call "RebootInstances" reboot-instances --instance-ids "$I1"
if [ "$API_ONLY" != 1 ]; then
	boot2=$boot1
	for i in $(seq 1 60); do
		sleep 1
		boot2=$(on "$tmp/k-ed" "$tmp/known1" "$IP1" "cut -d' ' -f22 /proc/1/stat" 2>/dev/null)
		[ -n "$boot2" ] && [ "$boot2" != "$boot1" ] && break
	done
	[ -n "$boot2" ] && [ "$boot2" != "$boot1" ] && ok "RebootInstances restarted the machine's init" ||
		bad "RebootInstances restarted the machine's init" "PID 1 start time still $boot1 after 60 s"
	waiter "wait instance-running after reboot" instance-running --instance-ids "$I1"
	wait_banner "$IP1" && ok "SSH banner after reboot" || bad "SSH banner after reboot" "none after 60 s"
	eq "user data not run again by a reboot" "$(on "$tmp/k-ed" "$tmp/known1" "$IP1" cat /root/ud-count)" ran
fi
call "StopInstances again" stop-instances --instance-ids "$I1"
waiter "wait instance-stopped (before CreateImage)" instance-stopped --instance-ids "$I1"

# ---------------------------------------------------------------- images from an instance
tagspecs=('ResourceType=image,Tags=[{Key=stage,Value=test}]' 'ResourceType=snapshot,Tags=[{Key=stage,Value=snap}]')
# moto cannot tag the snapshot of a new image.
[ "$API_ONLY" = 1 ] && unset 'tagspecs[1]'
call "CreateImage" create-image --instance-id "$I1" --name web-img-1 --description "first image" \
	--tag-specifications "${tagspecs[@]}" &&
	jt "CreateImage returns ami-" 'd["ImageId"].startswith("ami-")'
IMG1=$(j 'd["ImageId"]')
export IMG1
err "CreateImage duplicate name -> InvalidAMIName.Duplicate" InvalidAMIName.Duplicate \
	create-image --instance-id "$I1" --name web-img-1
waiter "wait image-available" image-available --image-ids "$IMG1"
call "CreateImage (second)" create-image --instance-id "$I1" --name web-img-22 --no-reboot
IMG2=$(j 'd["ImageId"]')
export IMG2
waiter "wait image-available (second)" image-available --image-ids "$IMG2"
call "DescribeImages new image" describe-images --image-ids "$IMG1" &&
	jt "new image: available, name, description, owner, tags" \
		'(lambda i: i["State"] == "available" and i["Name"] == "web-img-1" and i.get("Description") == "first image" and i["OwnerId"] and tags(i) == {"stage": "test"})(d["Images"][0])'
jt "new image: EBS snapshot in its block device mapping" \
	'any(b.get("Ebs", {}).get("SnapshotId", "").startswith("snap-") for b in d["Images"][0]["BlockDeviceMappings"])'
SNAP1=$(j '[b["Ebs"]["SnapshotId"] for b in d["Images"][0]["BlockDeviceMappings"] if "Ebs" in b][0]')
call "DescribeImages second" describe-images --image-ids "$IMG2"
SNAP2=$(j '[b["Ebs"]["SnapshotId"] for b in d["Images"][0]["BlockDeviceMappings"] if "Ebs" in b][0]')
export SNAP1 SNAP2
ifilter() { # NAME WANT-EXPR FILTER...: image ids of ours (BASE IMG1 IMG2) the filter selects
	local name=$1 want=$2
	shift 2
	call "DescribeImages $name" describe-images --filters "$@" &&
		jt "DescribeImages filter $name" "sorted(x for x in [i['ImageId'] for i in d['Images']] if x in (E['BASE'], E['IMG1'], E['IMG2'])) == sorted($want)"
}
ifilter "name web-img-*" '[E["IMG1"], E["IMG2"]]' Name=name,Values=web-img-*
ifilter "name web-img-?" '[E["IMG1"]]' 'Name=name,Values=web-img-?'
ifilter "name *-2?" '[E["IMG2"]]' 'Name=name,Values=*-2?'
ifilter "name exact" '[E["BASE"]]' "Name=name,Values=$BASE_NAME"
ifilter "name two values" '[E["IMG1"], E["BASE"]]' "Name=name,Values=$BASE_NAME,web-img-1"
ifilter "state available" '[E["BASE"], E["IMG1"], E["IMG2"]]' Name=state,Values=available
ifilter "state pending" '[]' Name=state,Values=pending
ifilter "tag:stage" '[E["IMG1"]]' Name=tag:stage,Values=test
ifilter "tag-key" '[E["IMG1"]]' Name=tag-key,Values=stage
ifilter "image-id" '[E["IMG2"]]' "Name=image-id,Values=$IMG2"
ifilter "name AND tag" '[]' Name=name,Values=web-img-22 Name=tag:stage,Values=test

call "DescribeSnapshots --owner-ids self" describe-snapshots --owner-ids self &&
	jt "DescribeSnapshots lists the images' snapshots, completed" \
		'all(any(s["SnapshotId"] == x and s["State"] == "completed" and s["OwnerId"] for s in d["Snapshots"]) for x in (E["SNAP1"], E["SNAP2"]))'
call "DescribeSnapshots --snapshot-ids" describe-snapshots --snapshot-ids "$SNAP1" &&
	jt "DescribeSnapshots --snapshot-ids: tags from TagSpecifications, volume size" \
		'[s["SnapshotId"] for s in d["Snapshots"]] == [E["SNAP1"]] and tags(d["Snapshots"][0]) == {"stage": "snap"} and d["Snapshots"][0]["VolumeSize"] > 0'
err "DeleteSnapshot of a registered image's snapshot -> InvalidSnapshot.InUse" InvalidSnapshot.InUse \
	delete-snapshot --snapshot-id "$SNAP2"
err "DescribeSnapshots unknown -> InvalidSnapshot.NotFound" InvalidSnapshot.NotFound \
	describe-snapshots --snapshot-ids snap-0123456789abcdef0

# ---------------------------------------------------------------- second instance, from the new image
call "RunInstances from the new image" run-instances --image-id "$IMG1" --instance-type t3.small --key-name k-rsa \
	--security-group-ids "$SG" --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=two}]'
I2=$(j 'd["Instances"][0]["InstanceId"]')
IP2=$(j 'd["Instances"][0]["PrivateIpAddress"]')
export I2 IP2
[ "$IP2" != "$IP1" ] && ok "second instance has its own address" || bad "second instance has its own address" "$IP2"
waiter "wait instance-running (from new image)" instance-running --instance-ids "$I2"
if [ "$API_ONLY" != 1 ]; then
	console_ready "console fingerprints of $I2" "$I2"
	wait_banner "$IP2" || bad "SSH banner on $IP2" "none after 60 s"
	known_hosts "host keys of $I2 match the console" "$I2" "$IP2" "$tmp/known2"
	FP2=$(fingerprints "$I2")
	shared=0
	for fp in $FP2; do echo "$FP1" | grep -qxF "$fp" && shared=1; done
	[ "$shared" = 0 ] && [ -n "$FP2" ] && ok "new image's instance has new host keys" ||
		bad "new image's instance has new host keys" "shares a host key with $I1"
	eq "file from the imaged instance found (rsa key)" "$(on "$tmp/k-rsa" "$tmp/known2" "$IP2" cat /root/marker)" kept-across-images
	eq "source instance's user data not re-run" "$(on "$tmp/k-rsa" "$tmp/known2" "$IP2" cat /root/ud-count)" ran
fi
err "DeleteSecurityGroup in use -> DependencyViolation" DependencyViolation delete-security-group --group-id "$SG"

# ---------------------------------------------------------------- tags
call "CreateTags" create-tags --resources "$I1" "$IMG1" "$SG" --tags Key=env,Value=dev Key=owner,Value=ops
call "DescribeTags resource-id" describe-tags --filters "Name=resource-id,Values=$I1" &&
	jt "DescribeTags of the instance: Name, role, env, owner" \
		'sorted((t["Key"], t["Value"], t["ResourceType"], t["ResourceId"]) for t in d["Tags"]) == sorted([(k, v, "instance", E["I1"]) for k, v in [("Name", "one"), ("role", "web"), ("env", "dev"), ("owner", "ops")]])'
call "DescribeTags key" describe-tags --filters Name=key,Values=env &&
	jt "DescribeTags key=env: instance, image, security group" \
		'sorted((t["ResourceId"], t["ResourceType"]) for t in d["Tags"]) == sorted([(E["I1"], "instance"), (E["IMG1"], "image"), (E["SG"], "security-group")])'
call "DescribeTags resource-type" describe-tags --filters Name=resource-type,Values=image Name=key,Values=env,stage &&
	jt "DescribeTags resource-type=image AND key" \
		'sorted((t["Key"], t["ResourceId"]) for t in d["Tags"]) == [("env", E["IMG1"]), ("stage", E["IMG1"])]'
call "DescribeTags value" describe-tags --filters Name=value,Values=ops &&
	jt "DescribeTags value=ops" 'len(d["Tags"]) == 3'
call "CreateTags overwrite" create-tags --resources "$I1" --tags Key=env,Value=prod
call "DeleteTags value mismatch" delete-tags --resources "$I1" --tags Key=owner,Value=nobody
call "DeleteTags" delete-tags --resources "$I1" "$SG" --tags Key=env
call "DescribeTags after delete" describe-tags --filters "Name=resource-id,Values=$I1,$SG" &&
	jt "CreateTags overwrites, DeleteTags by key, not on value mismatch" \
		'sorted((t["ResourceId"], t["Key"], t["Value"]) for t in d["Tags"]) == sorted([(E["I1"], "Name", "one"), (E["I1"], "role", "web"), (E["I1"], "owner", "ops"), (E["SG"], "owner", "ops"), (E["SG"], "tier", "web")])'
call "DescribeInstances after tags" describe-instances --instance-ids "$I1" &&
	jt "instance tags seen by DescribeInstances" 'tags(insts(d)[0]) == {"Name": "one", "role": "web", "owner": "ops"}'
call "DescribeTags max-items" describe-tags --max-items 2 &&
	jt "DescribeTags paginates (--max-items 2)" 'len(d["Tags"]) == 2 and d.get("NextToken")'
err "CreateTags on an unknown instance -> InvalidInstanceID.NotFound" InvalidInstanceID.NotFound \
	create-tags --resources i-0123456789abcdef0 --tags Key=a,Value=b

# ---------------------------------------------------------------- launch templates
ltdata=$(printf '{"ImageId":"%s","InstanceType":"t3.micro","KeyName":"k-imp","SecurityGroupIds":["%s"],"TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"from","Value":"lt"}]}]}' "$BASE" "$SG")
call "CreateLaunchTemplate" create-launch-template --launch-template-name lt-web --version-description v1 \
	--launch-template-data "$ltdata" --tag-specifications 'ResourceType=launch-template,Tags=[{Key=app,Value=web}]' &&
	jt "CreateLaunchTemplate: id, versions 1/1" \
		'(lambda t: t["LaunchTemplateId"].startswith("lt-") and t["LaunchTemplateName"] == "lt-web" and t["LatestVersionNumber"] == 1 and t["DefaultVersionNumber"] == 1)(d["LaunchTemplate"])'
LT=$(j 'd["LaunchTemplate"]["LaunchTemplateId"]')
export LT
err "CreateLaunchTemplate duplicate -> InvalidLaunchTemplateName.AlreadyExistsException" \
	InvalidLaunchTemplateName.AlreadyExistsException create-launch-template --launch-template-name lt-web --launch-template-data "$ltdata"
call "CreateLaunchTemplateVersion" create-launch-template-version --launch-template-id "$LT" --source-version 1 \
	--version-description v2 --launch-template-data "{\"ImageId\":\"$IMG1\"}" &&
	jt "CreateLaunchTemplateVersion: version 2 inherits from source version 1" \
		'(lambda v: v["VersionNumber"] == 2 and v["LaunchTemplateId"] == E["LT"] and v["DefaultVersion"] is False and v["LaunchTemplateData"]["ImageId"] == E["IMG1"] and v["LaunchTemplateData"]["InstanceType"] == "t3.micro" and v["LaunchTemplateData"]["KeyName"] == "k-imp")(d["LaunchTemplateVersion"])'
call "DescribeLaunchTemplates" describe-launch-templates --launch-template-names lt-web &&
	jt "DescribeLaunchTemplates: latest 2, default 1, tags" \
		'(lambda t: t["LaunchTemplateId"] == E["LT"] and t["LatestVersionNumber"] == 2 and t["DefaultVersionNumber"] == 1 and tags(t) == {"app": "web"})(d["LaunchTemplates"][0])'
call "DescribeLaunchTemplates --launch-template-ids" describe-launch-templates --launch-template-ids "$LT" &&
	jt "DescribeLaunchTemplates --launch-template-ids" '[t["LaunchTemplateName"] for t in d["LaunchTemplates"]] == ["lt-web"]'
call "DescribeLaunchTemplateVersions" describe-launch-template-versions --launch-template-id "$LT" &&
	jt "DescribeLaunchTemplateVersions: 1 and 2, descriptions, default flag" \
		'sorted((v["VersionNumber"], v.get("VersionDescription"), v["DefaultVersion"]) for v in d["LaunchTemplateVersions"]) == [(1, "v1", True), (2, "v2", False)]'
call "DescribeLaunchTemplateVersions \$Latest" describe-launch-template-versions --launch-template-name lt-web --versions '$Latest' &&
	jt "DescribeLaunchTemplateVersions \$Latest is 2" '[v["VersionNumber"] for v in d["LaunchTemplateVersions"]] == [2]'
call "ModifyLaunchTemplate" modify-launch-template --launch-template-id "$LT" --default-version 2 &&
	jt "ModifyLaunchTemplate: default 2" 'd["LaunchTemplate"]["DefaultVersionNumber"] == 2'
call "DescribeLaunchTemplateVersions \$Default" describe-launch-template-versions --launch-template-id "$LT" --versions '$Default' &&
	jt "DescribeLaunchTemplateVersions \$Default is 2" '[v["VersionNumber"] for v in d["LaunchTemplateVersions"]] == [2]'
call "RunInstances --launch-template (default version)" run-instances --launch-template "LaunchTemplateId=$LT"
I3=$(j 'd["Instances"][0]["InstanceId"]')
jt "RunInstances from the template's default version: image, type, key, group, tags" \
	'(lambda i: i["ImageId"] == E["IMG1"] and i["InstanceType"] == "t3.micro" and i["KeyName"] == "k-imp" and [g["GroupId"] for g in i["SecurityGroups"]] == [E["SG"]] and tags(i).get("from") == "lt")(d["Instances"][0])'
call "RunInstances --launch-template version 1 + override" run-instances \
	--launch-template 'LaunchTemplateName=lt-web,Version=1' --instance-type t3.small
I4=$(j 'd["Instances"][0]["InstanceId"]')
jt "RunInstances from version 1 with InstanceType override" \
	'(lambda i: i["ImageId"] == E["BASE"] and i["InstanceType"] == "t3.small")(d["Instances"][0])'
err "RunInstances unknown template -> InvalidLaunchTemplateId.NotFound" InvalidLaunchTemplateId.NotFound \
	run-instances --launch-template LaunchTemplateId=lt-0123456789abcdef0
call "CreateLaunchTemplate (kept)" create-launch-template --launch-template-name lt-kept --launch-template-data "$ltdata"
call "CreateLaunchTemplate (deleted)" create-launch-template --launch-template-name lt-gone --launch-template-data "$ltdata"
call "DeleteLaunchTemplate" delete-launch-template --launch-template-name lt-gone &&
	jt "DeleteLaunchTemplate returns the template" 'd["LaunchTemplate"]["LaunchTemplateName"] == "lt-gone"'
err "DeleteLaunchTemplate removed it -> InvalidLaunchTemplateName.NotFoundException" \
	InvalidLaunchTemplateName.NotFoundException describe-launch-templates --launch-template-names lt-gone
call "TerminateInstances (template instances)" terminate-instances --instance-ids "$I3" "$I4"

# ---------------------------------------------------------------- pagination
PIDS=()
for n in 1 2 3 4 5 6; do
	extra=()
	# EC2 accepts tags for the instance's volumes too; the first one carries some.
	[ "$n" = 1 ] && extra=('ResourceType=volume,Tags=[{Key=batch,Value=vol}]')
	call "RunInstances batch $n" run-instances --image-id "$BASE" --instance-type t3.nano \
		--tag-specifications "ResourceType=instance,Tags=[{Key=batch,Value=p},{Key=n,Value=$n}]" "${extra[@]}" &&
		PIDS+=("$(j 'd["Instances"][0]["InstanceId"]')")
done
export PIDS_ALL="${PIDS[*]}"
call "DescribeInstances --page-size 5 (all pages)" describe-instances --filters Name=tag:batch,Values=p --page-size 5 &&
	jt "DescribeInstances pages through all 6 reservations" \
		'len(d["Reservations"]) == 6 and iids(d) == sorted(E["PIDS_ALL"].split())'
call "DescribeInstances --max-items 4" describe-instances --filters Name=tag:batch,Values=p --page-size 5 --max-items 4 &&
	jt "DescribeInstances --max-items 4: 4 reservations and a NextToken" 'len(d["Reservations"]) == 4 and d.get("NextToken")'
TOK=$(j 'd.get("NextToken")')
first=$(j 'iids(d)')
call "DescribeInstances --starting-token" describe-instances --filters Name=tag:batch,Values=p --page-size 5 --max-items 4 --starting-token "$TOK"
export FIRST="$first"
jt "DescribeInstances --starting-token: the other 2, no repeats, no token" \
	'sorted(iids(d) + E["FIRST"].split()) == sorted(E["PIDS_ALL"].split()) and not d.get("NextToken")'
call "DescribeInstances --max-results 5 --no-paginate" describe-instances --filters Name=tag:batch,Values=p --max-results 5 --no-paginate &&
	jt "DescribeInstances MaxResults 5: 5 instances and a NextToken" 'len(iids(d)) == 5 and d.get("NextToken")'
TOK=$(j 'd.get("NextToken")')
export FIRST="$(j 'iids(d)')"
call "DescribeInstances --next-token" describe-instances --filters Name=tag:batch,Values=p --max-results 5 --no-paginate --next-token "$TOK" &&
	jt "DescribeInstances NextToken: the last one" 'sorted(iids(d) + E["FIRST"].split()) == sorted(E["PIDS_ALL"].split())'
call "TerminateInstances (batch)" terminate-instances --instance-ids "${PIDS[@]}" &&
	jt "TerminateInstances: all shutting-down/terminated" \
		'len(d["TerminatingInstances"]) == 6 and all(t["CurrentState"]["Name"] in ("shutting-down", "terminated") for t in d["TerminatingInstances"])'

# ---------------------------------------------------------------- ten at once
# (in the group with SSH from anywhere: security groups filter)
call "RunInstances --count 10" run-instances --image-id "$BASE" --instance-type t3.nano --count 10 \
	--key-name k-ed --security-group-ids "$SG" --tag-specifications 'ResourceType=instance,Tags=[{Key=batch,Value=ten}]' &&
	jt "RunInstances --count 10: one reservation, launch indexes 0-9, distinct addresses" \
		'len(d["Instances"]) == 10 and sorted(i["AmiLaunchIndex"] for i in d["Instances"]) == list(range(10)) and len({i["PrivateIpAddress"] for i in d["Instances"]}) == 10'
TEN=$(j '[i["InstanceId"] for i in d["Instances"]]')
TEN_IPS=$(j '[i["PrivateIpAddress"] for i in d["Instances"]]')
if [ -n "$TEN" ]; then
	# shellcheck disable=SC2086
	waiter "wait instance-running (10 at once)" instance-running --instance-ids $TEN
	if [ "$API_ONLY" != 1 ]; then
		n=0
		for ip in $TEN_IPS; do wait_banner "$ip" && n=$((n + 1)); done
		eq "SSH banners on all 10" "$n" 10
	fi
	# shellcheck disable=SC2086
	call "TerminateInstances (10)" terminate-instances --instance-ids $TEN
fi

# ---------------------------------------------------------------- power-off from inside
if [ "$API_ONLY" != 1 ]; then
	printf '#!/bin/sh\nsleep 1\npoweroff 2>/dev/null || busybox poweroff\n' >"$tmp/poweroff.sh"
	call "RunInstances shutdown-behavior terminate" run-instances --image-id "$BASE" --instance-type t3.micro \
		--instance-initiated-shutdown-behavior terminate --user-data "file://$tmp/poweroff.sh"
	I5=$(j 'd["Instances"][0]["InstanceId"]')
	call "RunInstances shutdown-behavior stop" run-instances --image-id "$BASE" --instance-type t3.micro \
		--user-data "file://$tmp/poweroff.sh"
	I6=$(j 'd["Instances"][0]["InstanceId"]')
	wait_state "poweroff under InstanceInitiatedShutdownBehavior=terminate -> terminated" "$I5" terminated 120
	wait_state "poweroff under the default behaviour -> stopped" "$I6" stopped 120
fi

# ---------------------------------------------------------------- kill -9 and restart
if [ "$API_ONLY" != 1 ]; then
	snap() { # -> $tmp/snap.$1: what must survive
		{
			ec2 describe-images --owners self && j 'sorted((i["ImageId"], i["Name"], i["State"], str(sorted(tags(i).items()))) for i in d["Images"])'
			ec2 describe-key-pairs && j 'sorted((k["KeyName"], k["KeyPairId"], k["KeyFingerprint"], str(sorted(tags(k).items()))) for k in d["KeyPairs"])'
			ec2 describe-security-groups && j 'sorted((g["GroupId"], g["GroupName"], len(g["IpPermissions"]), len(g["IpPermissionsEgress"])) for g in d["SecurityGroups"])'
			ec2 describe-launch-templates && j 'sorted((t["LaunchTemplateId"], t["LaunchTemplateName"], t["LatestVersionNumber"], t["DefaultVersionNumber"]) for t in d["LaunchTemplates"])'
			ec2 describe-tags && j 'sorted((t["ResourceId"], t["Key"], t["Value"]) for t in d["Tags"])'
			ec2 describe-snapshots --owner-ids self && j 'sorted(s["SnapshotId"] for s in d["Snapshots"])'
		} >"$tmp/snap.$1"
	}
	snap before
	pid=$(cat "$STATE/cloud.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && bad "kill -9 the daemon" "pid $pid still alive" || ok "kill -9 the daemon (pid $pid)"
		if "$KILN_BIN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >"$tmp/up2.out" 2>&1; then
			ok "kiln cloud up after kill -9"
		else
			bad "kiln cloud up after kill -9" "$(cat "$tmp/up2.out")"
		fi
		snap after
		if cmp -s "$tmp/snap.before" "$tmp/snap.after"; then
			ok "images, key pairs, groups, templates, tags, snapshots survive kill -9"
		else
			bad "images, key pairs, groups, templates, tags, snapshots survive kill -9" \
				"$(diff "$tmp/snap.before" "$tmp/snap.after" | head -c 800 | tr '\n' ' ')"
		fi
		waiter "running instance running again after kill -9" instance-running --instance-ids "$I2"
		wait_banner "$IP2" && ok "SSH banner after restart" || bad "SSH banner after restart" "none after 60 s"
		eq "SSH into the instance after restart (same host keys)" \
			"$(on "$tmp/k-rsa" "$tmp/known2" "$IP2" cat /root/marker)" kept-across-images
		eq "stopped instance still stopped after restart" "$(state "$I1")" stopped
	else
		bad "kill -9 the daemon" "no live pid in $STATE/cloud.pid"
	fi
fi

# ---------------------------------------------------------------- deregistering keeps layers in use
# I2 runs from IMG1; an image of I2 stacks on IMG1's layer. Deregister IMG1:
# the new image and I2 must still work.
if [ "$API_ONLY" != 1 ]; then
	on "$tmp/k-rsa" "$tmp/known2" "$IP2" 'echo second > /root/marker2' || bad "write marker2 on $I2" "ssh failed"
fi
call "StopInstances (I2)" stop-instances --instance-ids "$I2"
waiter "wait instance-stopped (I2)" instance-stopped --instance-ids "$I2"
call "CreateImage of an instance of a created image" create-image --instance-id "$I2" --name web-img-stacked
IMG3=$(j 'd.get("ImageId")')
export IMG3
waiter "wait image-available (stacked)" image-available --image-ids "$IMG3"
call "DeregisterImage (the stacked image's parent)" deregister-image --image-id "$IMG1"
call "StartInstances (I2, image deregistered)" start-instances --instance-ids "$I2"
waiter "wait instance-running (I2, image deregistered)" instance-running --instance-ids "$I2"
call "RunInstances from the stacked image" run-instances --image-id "$IMG3" --instance-type t3.micro --key-name k-ed \
	--security-group-ids "$SG"
I7=$(j 'd["Instances"][0]["InstanceId"]')
IP7=$(j 'd["Instances"][0]["PrivateIpAddress"]')
export I7
waiter "wait instance-running (stacked image)" instance-running --instance-ids "$I7"
if [ "$API_ONLY" != 1 ]; then
	wait_banner "$IP2" || bad "SSH banner on $IP2 after its image was deregistered" "none after 60 s"
	eq "instance of a deregistered image keeps its files" \
		"$(on "$tmp/k-rsa" "$tmp/known2" "$IP2" cat /root/marker /root/marker2)" "kept-across-images
second"
	console_ready "console fingerprints of $I7" "$I7"
	wait_banner "$IP7" || bad "SSH banner on $IP7" "none after 60 s"
	known_hosts "host keys of $I7 match the console" "$I7" "$IP7" "$tmp/known7"
	eq "stacked image has both layers after its parent was deregistered" \
		"$(on "$tmp/k-ed" "$tmp/known7" "$IP7" cat /root/marker /root/marker2)" "kept-across-images
second"
fi

# ---------------------------------------------------------------- terminate, deregister, delete
call "TerminateInstances (I7)" terminate-instances --instance-ids "$I7"
call "TerminateInstances" terminate-instances --instance-ids "$I1" "$I2" &&
	jt "TerminateInstances: previous states, current shutting-down/terminated" \
		'sorted((t["InstanceId"], t["PreviousState"]["Name"]) for t in d["TerminatingInstances"]) == sorted([(E["I1"], "stopped"), (E["I2"], "running")]) and all(t["CurrentState"]["Name"] in ("shutting-down", "terminated") for t in d["TerminatingInstances"])'
# (I7 and the ten share SG: it can be deleted only once they are gone too)
# shellcheck disable=SC2086
waiter "wait instance-terminated" instance-terminated --instance-ids "$I1" "$I2" "$I7" $TEN
call "DescribeInstances terminated" describe-instances --filters Name=instance-state-name,Values=terminated &&
	jt "terminated instances still visible (code 48)" \
		'all(any(i["InstanceId"] == x and i["State"] == {"Code": 48, "Name": "terminated"} for i in insts(d)) for x in (E["I1"], E["I2"]))'
call "TerminateInstances again" terminate-instances --instance-ids "$I1" &&
	jt "TerminateInstances on a terminated instance: terminated -> terminated" \
		'[(t["PreviousState"]["Name"], t["CurrentState"]["Name"]) for t in d["TerminatingInstances"]] == [("terminated", "terminated")]'
err "StartInstances on terminated -> IncorrectInstanceState" IncorrectInstanceState start-instances --instance-ids "$I1"
err "StopInstances on terminated -> IncorrectInstanceState" IncorrectInstanceState stop-instances --instance-ids "$I2"
err "CreateImage of a terminated instance -> IncorrectInstanceState" IncorrectInstanceState \
	create-image --instance-id "$I1" --name from-terminated
call "DeleteSecurityGroup once unused" delete-security-group --group-id "$SG"
call "DeregisterImage" deregister-image --image-id "$IMG2"
if ec2 describe-images --image-ids "$IMG2"; then
	jt "DeregisterImage: no longer available" 'all(i["State"] != "available" for i in d["Images"])'
else
	grep -qF "An error occurred (InvalidAMIID.NotFound)" "$tmp/err" && ok "DeregisterImage: no longer available" ||
		bad "DeregisterImage: no longer available" "$(head -c 300 "$tmp/err")"
fi
call "DeleteSnapshot" delete-snapshot --snapshot-id "$SNAP2"
err "DeleteSnapshot removed it -> InvalidSnapshot.NotFound" InvalidSnapshot.NotFound describe-snapshots --snapshot-ids "$SNAP2"
call "DescribeImages after deregistering others" describe-images --image-ids "$IMG3" &&
	jt "stacked image still available" 'd["Images"][0]["State"] == "available"'

if [ "$API_ONLY" != 1 ] && [ -f "$STATE/requests.jsonl" ]; then
	if python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
acts = {r.get("action") for r in rows}
need = {"RunInstances", "DescribeInstances", "CreateImage", "GetConsoleOutput", "DescribeRegions"}
sys.exit(0 if need <= acts and all("status" in r for r in rows) else 1)' "$STATE/requests.jsonl"; then
		ok "requests.jsonl logs actions and statuses"
	else
		bad "requests.jsonl logs actions and statuses" "$(head -c 300 "$STATE/requests.jsonl")"
	fi
elif [ "$API_ONLY" != 1 ]; then
	bad "requests.jsonl logs actions and statuses" "no $STATE/requests.jsonl"
fi

awscli_summary
