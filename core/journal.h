/*
 * The run journal: one JSON line per event, appended and fsynced before the
 * caller goes on, so that intent is on disk before every create. Cleanup
 * after a crash and audit read it; the cloud stays the source of truth
 * (resources are also found by tags), so a lost journal loses nothing.
 *
 * Line shape: {"time": "...Z", "run_id": "...", "event": "intent" |
 * "created" | "deleted" | "note", "kind": "instance", "token": "...",
 * "id": "i-...", ...details}. Secrets never go in a journal.
 */
#ifndef KILN_CORE_JOURNAL_H
#define KILN_CORE_JOURNAL_H

#include <jansson.h>

struct kiln_journal;

/* Open (create) DIR/<run_id>.jsonl for appending; DIR is created 0700. */
int kiln_journal_open(struct kiln_journal **out, const char *dir, const char *run_id);
void kiln_journal_close(struct kiln_journal *j);
const char *kiln_journal_path(const struct kiln_journal *j);

/*
 * Append one event. `kind`, `token`, `id` may be NULL; `details` (borrowed,
 * may be NULL) is merged into the line.
 */
int kiln_journal_append(struct kiln_journal *j, const char *event, const char *kind,
                        const char *token, const char *id, json_t *details);

/* Read every line of a journal file into a new JSON array (torn last line skipped). */
int kiln_journal_read(json_t **out, const char *path);

#endif
