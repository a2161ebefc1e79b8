#include "validate/checks.h"
#include "core/common.h"
#include "core/shell.h"

#include <string.h>

/* Append `fmt`: "%q" is the next word single-quoted, "%s" the next raw, "%%" a percent. */
static void emit(struct kiln_buf *out, const char *fmt, ...)
{
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == '%') {
			kiln_buf_putc(out, '%');
			p++;
		} else if (p[0] == '%' && (p[1] == 'q' || p[1] == 's')) {
			const char *arg = va_arg(ap, const char *);
			if (p[1] == 'q')
				kiln_sh_quote(out, arg);
			else
				kiln_buf_puts(out, arg);
			p++;
		} else {
			kiln_buf_putc(out, *p);
		}
	}
	va_end(ap);
}

static void file_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	emit(out, "f=%q\n", c->subject);
	if (c->exists == 0) {
		emit(out,
		     "if [ -e \"$f\" ] || [ -L \"$f\" ]; then echo \"$f exists\"; exit 1; fi\n");
		return;
	}
	emit(out, "[ -e \"$f\" ] || { echo \"$f does not exist\"; exit 1; }\n");
	if (c->mode != NULL) {
		/* stat prints "644" for "0644": compare without leading zeros. */
		const char *want = c->mode;
		while (want[0] == '0' && want[1] != '\0')
			want++;
		emit(out,
		     "m=$(stat -L -c %%a \"$f\") || exit 1\n"
		     "[ \"$m\" = %q ] || { echo \"$f has mode $m, expected \"%q; exit 1; }\n",
		     want, c->mode);
	}
	if (c->owner != NULL)
		emit(out,
		     "o=$(stat -L -c %%U \"$f\") || exit 1\n"
		     "[ \"$o\" = %q ] || { echo \"$f is owned by $o, expected \"%q; exit 1; }\n",
		     c->owner, c->owner);
	if (c->group != NULL)
		emit(out,
		     "g=$(stat -L -c %%G \"$f\") || exit 1\n"
		     "[ \"$g\" = %q ] || { echo \"$f has group $g, expected \"%q; exit 1; }\n",
		     c->group, c->group);
	if (c->contains != NULL)
		emit(out, "grep -qF -e %q \"$f\" || { echo \"$f does not contain \"%q; exit 1; }\n",
		     c->contains, c->contains);
	if (c->sha256 != NULL)
		emit(out,
		     "h=$(sha256sum < \"$f\" | cut -d' ' -f1) || exit 1\n"
		     "[ \"$h\" = %q ] || { echo \"$f has sha256 $h\"; exit 1; }\n",
		     c->sha256);
}

static void package_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	emit(out,
	     "p=%q\n"
	     "if command -v dpkg-query >/dev/null 2>&1; then\n"
	     "  dpkg-query -W -f='${Status}' \"$p\" 2>/dev/null | grep -q 'install ok installed'\n"
	     "elif command -v rpm >/dev/null 2>&1; then rpm -q \"$p\" >/dev/null 2>&1\n"
	     "elif command -v apk >/dev/null 2>&1; then apk info -e \"$p\" >/dev/null 2>&1\n"
	     "else echo 'no package manager found'; exit 1; fi\n"
	     "r=$?\n",
	     c->subject);
	if (c->installed == 0)
		emit(out, "[ $r -ne 0 ] || { echo \"package $p is installed\"; exit 1; }\n");
	else
		emit(out, "[ $r -eq 0 ] || { echo \"package $p is not installed\"; exit 1; }\n");
}

static void service_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	/*
	 * systemd where it runs; otherwise (the local cloud's init, containers)
	 * a process of that name, and for "enabled" a boot entry in
	 * /etc/kiln/boot.d or /etc/init.d, or a unit linked in a target's wants
	 * as systemctl enable makes it (the local cloud's init starts those).
	 */
	emit(out,
	     "s=%q\n"
	     "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n"
	     "  active() { systemctl is-active --quiet \"$s\"; }\n"
	     "  enabled() { systemctl is-enabled --quiet \"$s\"; }\n"
	     "else\n"
	     "  active() { pidof \"$s\" >/dev/null 2>&1 || pgrep -x \"$s\" >/dev/null 2>&1; }\n"
	     "  enabled() { ls /etc/kiln/boot.d/ /etc/init.d/ 2>/dev/null | grep -q -e \"$s\" ||\n"
	     "    ls /etc/systemd/system/*.target.wants/ 2>/dev/null |\n"
	     "    grep -qxF -e \"$s\" -e \"$s.service\"; }\n"
	     "fi\n",
	     c->subject);
	/* Without modifiers a service check means "running"; "enabled" alone checks only that. */
	if (c->running == 0)
		emit(out, "active && { echo \"service $s is running\"; exit 1; }\n");
	else if (c->running == 1 || c->enabled == KILN_UNSET)
		emit(out, "active || { echo \"service $s is not running\"; exit 1; }\n");
	if (c->enabled == 1)
		emit(out, "enabled || { echo \"service $s is not enabled\"; exit 1; }\n");
	else if (c->enabled == 0)
		emit(out, "enabled && { echo \"service $s is enabled\"; exit 1; }\n");
	emit(out, "true\n");
}

static void port_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	char hex[8], dec[16];

	/* /proc/net/tcp{,6}: local address "ADDR:PORT" in hex, state 0A is LISTEN. */
	snprintf(hex, sizeof(hex), "%04X", (unsigned)c->port);
	snprintf(dec, sizeof(dec), "%d", c->port);
	emit(out,
	     "awk -v p=%q 'FNR > 1 && $4 == \"0A\" { n = split($2, a, \":\"); "
	     "if (a[n] == p) f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null\n"
	     "r=$?\n",
	     hex);
	if (c->listening == 0)
		emit(out, "[ $r -ne 0 ] || { echo 'port %s is listening'; exit 1; }\n", dec);
	else
		emit(out, "[ $r -eq 0 ] || { echo 'nothing listens on port %s'; exit 1; }\n", dec);
}

static void command_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	char codes[24], secs[24];

	snprintf(codes, sizeof(codes), "%d", c->exit_code != KILN_UNSET ? c->exit_code : 0);
	snprintf(secs, sizeof(secs), "%d", c->timeout_s != KILN_UNSET ? c->timeout_s : 60);
	emit(out,
	     "t=\n"
	     "command -v timeout >/dev/null 2>&1 && t=\"timeout %s\"\n"
	     "out=$($t sh -c %q 2>/dev/null)\n"
	     "r=$?\n"
	     "[ $r -eq %s ] || { echo \"exited with $r, expected %s\"; exit 1; }\n",
	     secs, c->subject, codes, codes);
	if (c->stdout_contains != NULL)
		emit(out,
		     "printf '%%s\\n' \"$out\" | grep -qF -e %q || "
		     "{ echo \"its output does not contain \"%q; exit 1; }\n",
		     c->stdout_contains, c->stdout_contains);
}

static void account_script(struct kiln_buf *out, const struct kiln_check_spec *c)
{
	int is_user = c->kind == KILN_CHECK_USER;

	if (is_user)
		emit(out, "n=%q\nid -u \"$n\" >/dev/null 2>&1\nr=$?\n", c->subject);
	else
		emit(out,
		     "n=%q\n"
		     "if command -v getent >/dev/null 2>&1; then getent group \"$n\" >/dev/null\n"
		     "else grep -q \"^$n:\" /etc/group; fi\n"
		     "r=$?\n",
		     c->subject);
	if (c->exists == 0)
		emit(out, "[ $r -ne 0 ] || { echo \"%s $n exists\"; exit 1; }\n",
		     is_user ? "user" : "group");
	else
		emit(out, "[ $r -eq 0 ] || { echo \"%s $n does not exist\"; exit 1; }\n",
		     is_user ? "user" : "group");
}

int kiln_check_script(struct kiln_buf *out, const struct kiln_check_spec *check)
{
	static void (*const scripts[])(struct kiln_buf *, const struct kiln_check_spec *) = {
	    [KILN_CHECK_FILE] = file_script,       [KILN_CHECK_PACKAGE] = package_script,
	    [KILN_CHECK_SERVICE] = service_script, [KILN_CHECK_PORT] = port_script,
	    [KILN_CHECK_COMMAND] = command_script, [KILN_CHECK_USER] = account_script,
	    [KILN_CHECK_GROUP] = account_script,
	};
	size_t start = out->size;

	KILN_ASSERT_ARG(out != NULL && check != NULL &&
	                (size_t)check->kind < KILN_ARRAY_SIZE(scripts));
	scripts[check->kind](out, check);
	/* Appends are bounded by the buffer's cap; a script that was cut must not run. */
	if (out->size == start || out->ptr[out->size - 1] != '\n')
		return kiln_error_set(KILN_ETOOBIG, "check script exceeds its limit");
	return 0;
}

/* "file /x contains 'y'": the subject, then every modifier set, as the profile wrote them. */
char *kiln_check_label(const struct kiln_check_spec *check)
{
	struct kiln_buf b = KILN_BUF_INIT;
	json_t *j;
	const char *key;
	json_t *v;

	KILN_ASSERT_ARG(check != NULL);
	if (check->name != NULL)
		return kiln_xstrdup(check->name);
	if (check->kind == KILN_CHECK_PORT)
		kiln_buf_printf(&b, "port %d", check->port);
	else
		kiln_buf_printf(&b, "%s %s", kiln_check_kind_name(check->kind), check->subject);
	j = kiln_check_spec_json(check);
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, kiln_check_kind_name(check->kind)) == 0)
			continue;
		if (json_is_string(v))
			kiln_buf_printf(&b, " %s '%s'", key, json_string_value(v));
		else if (json_is_boolean(v))
			kiln_buf_printf(&b, " %s%s", json_is_true(v) ? "" : "not ", key);
		else
			kiln_buf_printf(&b, " %s %lld", key, (long long)json_integer_value(v));
	}
	json_decref(j);
	return kiln_buf_detach(&b);
}
