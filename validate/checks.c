#include "validate/checks.h"
#include "core/common.h"
#include "core/json.h"
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

static void file_script(struct kiln_buf *out, const json_t *c)
{
	const char *path = kiln_json_str(c, "file");
	const json_t *exists = json_object_get(c, "exists");
	const char *s;

	emit(out, "f=%q\n", path);
	if (json_is_false(exists)) {
		emit(out,
		     "if [ -e \"$f\" ] || [ -L \"$f\" ]; then echo \"$f exists\"; exit 1; fi\n");
		return;
	}
	emit(out, "[ -e \"$f\" ] || { echo \"$f does not exist\"; exit 1; }\n");
	s = kiln_json_str(c, "mode");
	if (s != NULL) {
		/* stat prints "644" for "0644": compare without leading zeros. */
		const char *want = s;
		while (want[0] == '0' && want[1] != '\0')
			want++;
		emit(out,
		     "m=$(stat -L -c %%a \"$f\") || exit 1\n"
		     "[ \"$m\" = %q ] || { echo \"$f has mode $m, expected \"%q; exit 1; }\n",
		     want, s);
	}
	s = kiln_json_str(c, "owner");
	if (s != NULL)
		emit(out,
		     "o=$(stat -L -c %%U \"$f\") || exit 1\n"
		     "[ \"$o\" = %q ] || { echo \"$f is owned by $o, expected \"%q; exit 1; }\n",
		     s, s);
	s = kiln_json_str(c, "group");
	if (s != NULL)
		emit(out,
		     "g=$(stat -L -c %%G \"$f\") || exit 1\n"
		     "[ \"$g\" = %q ] || { echo \"$f has group $g, expected \"%q; exit 1; }\n",
		     s, s);
	s = kiln_json_str(c, "contains");
	if (s != NULL)
		emit(out, "grep -qF -e %q \"$f\" || { echo \"$f does not contain \"%q; exit 1; }\n",
		     s, s);
	s = kiln_json_str(c, "sha256");
	if (s != NULL)
		emit(out,
		     "h=$(sha256sum < \"$f\" | cut -d' ' -f1) || exit 1\n"
		     "[ \"$h\" = %q ] || { echo \"$f has sha256 $h\"; exit 1; }\n",
		     s);
}

static void package_script(struct kiln_buf *out, const json_t *c)
{
	const json_t *installed = json_object_get(c, "installed");

	emit(out,
	     "p=%q\n"
	     "if command -v dpkg-query >/dev/null 2>&1; then\n"
	     "  dpkg-query -W -f='${Status}' \"$p\" 2>/dev/null | grep -q 'install ok installed'\n"
	     "elif command -v rpm >/dev/null 2>&1; then rpm -q \"$p\" >/dev/null 2>&1\n"
	     "elif command -v apk >/dev/null 2>&1; then apk info -e \"$p\" >/dev/null 2>&1\n"
	     "else echo 'no package manager found'; exit 1; fi\n"
	     "r=$?\n",
	     kiln_json_str(c, "package"));
	if (json_is_false(installed))
		emit(out, "[ $r -ne 0 ] || { echo \"package $p is installed\"; exit 1; }\n");
	else
		emit(out, "[ $r -eq 0 ] || { echo \"package $p is not installed\"; exit 1; }\n");
}

static void service_script(struct kiln_buf *out, const json_t *c)
{
	const json_t *running = json_object_get(c, "running");
	const json_t *enabled = json_object_get(c, "enabled");

	/*
	 * systemd where it runs; otherwise (the local cloud's init, containers)
	 * a process of that name, and a boot entry in /etc/kiln/boot.d or
	 * /etc/init.d for "enabled".
	 */
	emit(out,
	     "s=%q\n"
	     "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n"
	     "  active() { systemctl is-active --quiet \"$s\"; }\n"
	     "  enabled() { systemctl is-enabled --quiet \"$s\"; }\n"
	     "else\n"
	     "  active() { pidof \"$s\" >/dev/null 2>&1 || pgrep -x \"$s\" >/dev/null 2>&1; }\n"
	     "  enabled() { ls /etc/kiln/boot.d/ /etc/init.d/ 2>/dev/null | grep -q -e \"$s\"; }\n"
	     "fi\n",
	     kiln_json_str(c, "service"));
	if (!json_is_false(running) || enabled == NULL) {
		if (json_is_false(running))
			emit(out, "active && { echo \"service $s is running\"; exit 1; }\n");
		else
			emit(out, "active || { echo \"service $s is not running\"; exit 1; }\n");
	}
	if (json_is_true(enabled))
		emit(out, "enabled || { echo \"service $s is not enabled\"; exit 1; }\n");
	else if (json_is_false(enabled))
		emit(out, "enabled && { echo \"service $s is enabled\"; exit 1; }\n");
	emit(out, "true\n");
}

static void port_script(struct kiln_buf *out, const json_t *c)
{
	const json_t *listening = json_object_get(c, "listening");
	char port[8];

	/* /proc/net/tcp{,6}: local address "ADDR:PORT" in hex, state 0A is LISTEN. */
	snprintf(port, sizeof(port), "%04X",
	         (unsigned)json_integer_value(json_object_get(c, "port")));
	emit(out,
	     "awk -v p=%q 'FNR > 1 && $4 == \"0A\" { n = split($2, a, \":\"); "
	     "if (a[n] == p) f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null\n"
	     "r=$?\n",
	     port);
	if (json_is_false(listening))
		emit(out, "[ $r -ne 0 ] || { echo 'port %s is listening'; exit 1; }\n",
		     kiln_json_str(c, "_port_text"));
	else
		emit(out, "[ $r -eq 0 ] || { echo 'nothing listens on port %s'; exit 1; }\n",
		     kiln_json_str(c, "_port_text"));
}

static void command_script(struct kiln_buf *out, const json_t *c)
{
	long long code = kiln_json_int(c, "exit_code", 0);
	long long timeout = kiln_json_int(c, "timeout_s", 60);
	const char *want = kiln_json_str(c, "stdout");
	char codes[24], secs[24];

	snprintf(codes, sizeof(codes), "%lld", code);
	snprintf(secs, sizeof(secs), "%lld", timeout);
	emit(out,
	     "t=\n"
	     "command -v timeout >/dev/null 2>&1 && t=\"timeout %s\"\n"
	     "out=$($t sh -c %q 2>/dev/null)\n"
	     "r=$?\n"
	     "[ $r -eq %s ] || { echo \"exited with $r, expected %s\"; exit 1; }\n",
	     secs, kiln_json_str(c, "command"), codes, codes);
	if (want != NULL)
		emit(out,
		     "printf '%%s\\n' \"$out\" | grep -qF -e %q || "
		     "{ echo \"its output does not contain \"%q; exit 1; }\n",
		     want, want);
}

static void account_script(struct kiln_buf *out, const json_t *c, int is_user)
{
	const char *name = kiln_json_str(c, is_user ? "user" : "group");
	const json_t *exists = json_object_get(c, "exists");

	if (is_user)
		emit(out, "n=%q\nid -u \"$n\" >/dev/null 2>&1\nr=$?\n", name);
	else
		emit(out,
		     "n=%q\n"
		     "if command -v getent >/dev/null 2>&1; then getent group \"$n\" >/dev/null\n"
		     "else grep -q \"^$n:\" /etc/group; fi\n"
		     "r=$?\n",
		     name);
	if (json_is_false(exists))
		emit(out, "[ $r -ne 0 ] || { echo \"%s $n exists\"; exit 1; }\n",
		     is_user ? "user" : "group");
	else
		emit(out, "[ $r -eq 0 ] || { echo \"%s $n does not exist\"; exit 1; }\n",
		     is_user ? "user" : "group");
}

int kiln_check_script(struct kiln_buf *out, const json_t *check)
{
	size_t start = out->size;

	KILN_ASSERT_ARG(out != NULL && json_is_object(check));
	if (json_object_get(check, "file") != NULL) {
		file_script(out, check);
	} else if (json_object_get(check, "package") != NULL) {
		package_script(out, check);
	} else if (json_object_get(check, "service") != NULL) {
		service_script(out, check);
	} else if (json_object_get(check, "port") != NULL) {
		json_t *copy = json_copy((json_t *)check);
		char text[16];
		snprintf(text, sizeof(text), "%lld", kiln_json_int(check, "port", 0));
		json_object_set_new(copy, "_port_text", json_string(text));
		port_script(out, copy);
		json_decref(copy);
	} else if (json_object_get(check, "command") != NULL) {
		command_script(out, check);
	} else if (json_object_get(check, "user") != NULL) {
		account_script(out, check, 1);
	} else if (json_object_get(check, "group") != NULL) {
		account_script(out, check, 0);
	} else {
		return kiln_error_set(KILN_EINVAL, "check has no known kind");
	}
	/* Appends are bounded by the buffer's cap; a script that was cut must not run. */
	if (out->size == start || out->ptr[out->size - 1] != '\n')
		return kiln_error_set(KILN_ETOOBIG, "check script exceeds its limit");
	return 0;
}

char *kiln_check_label(const json_t *check)
{
	struct kiln_buf b = KILN_BUF_INIT;
	const char *name = kiln_json_str(check, "name");
	static const char *const kinds[] = {"file",    "package", "service", "port",
	                                    "command", "user",    "group"};
	const char *key;
	json_t *v;
	size_t i;

	if (name != NULL)
		return kiln_xstrdup(name);
	for (i = 0; i < KILN_ARRAY_SIZE(kinds); i++) {
		v = json_object_get(check, kinds[i]);
		if (v == NULL)
			continue;
		if (json_is_string(v))
			kiln_buf_printf(&b, "%s %s", kinds[i], json_string_value(v));
		else
			kiln_buf_printf(&b, "%s %lld", kinds[i], (long long)json_integer_value(v));
		break;
	}
	json_object_foreach((json_t *)check, key, v)
	{
		if (json_object_get(check, key) != NULL && (i < KILN_ARRAY_SIZE(kinds)) &&
		    strcmp(key, kinds[i]) == 0)
			continue;
		if (strcmp(key, "name") == 0)
			continue;
		if (json_is_string(v))
			kiln_buf_printf(&b, " %s '%s'", key, json_string_value(v));
		else if (json_is_boolean(v))
			kiln_buf_printf(&b, " %s%s", json_is_true(v) ? "" : "not ", key);
		else
			kiln_buf_printf(&b, " %s %lld", key, (long long)json_integer_value(v));
	}
	return kiln_buf_detach(&b);
}
