/*
 * Quoting for POSIX shell command lines sent to machines (over SSH, to a
 * builder). A quoted word is always single-quoted, with embedded single
 * quotes written as '\'' so that nothing in it is expanded.
 */
#ifndef KILN_CORE_SHELL_H
#define KILN_CORE_SHELL_H

#include "core/buf.h"

int kiln_sh_quote(struct kiln_buf *out, const char *word);

#endif
