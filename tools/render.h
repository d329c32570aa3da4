/* render: a snapshot as text for people, or as JSON for scripts. Rates
 * come from the previous snapshot of the same segment (NULL: none). */
#ifndef SHMG_TOOL_RENDER_H
#define SHMG_TOOL_RENDER_H

#include <stdio.h>

#include "json.h"
#include "snapshot.h"

void render_text(FILE *out, const char *path, const struct snapshot *prev,
		 const struct snapshot *cur);
void render_json(struct json *j, const char *path, const struct snapshot *prev,
		 const struct snapshot *cur);

#endif /* SHMG_TOOL_RENDER_H */
