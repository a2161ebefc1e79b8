#include "core/shell.h"

int kiln_sh_quote(struct kiln_buf *out, const char *word)
{
	int error = kiln_buf_putc(out, '\'');

	for (; error == 0 && *word != '\0'; word++) {
		if (*word == '\'')
			error = kiln_buf_puts(out, "'\\''");
		else
			error = kiln_buf_putc(out, *word);
	}
	if (error == 0)
		error = kiln_buf_putc(out, '\'');
	return error;
}
