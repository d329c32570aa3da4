/* The kinds of segment the tool knows, in the order it recognises files
 * (kind.h). A new layout client: one file, one line here. */
#define _GNU_SOURCE

#include <stddef.h>

#include "kind.h"

extern const struct kind kind_isio, kind_pinfo, kind_fps;

const struct kind *const seg_kinds[] = {
	&kind_isio,
	&kind_pinfo,
	&kind_fps,
	NULL, /* generic regions: chosen by --wflag / --xlock only */
};
