/*
 * The one /proc/PID/stat parser (lib/proc_internal.h).
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "proc_internal.h"
#include "testing.h"

/* The field after a run of n - 3 spaces from field 3; NULL if the line
 * ends first. */
static const char *field(const char *f, const char *end, int n)
{
	for (int at = 3; at < n; f++) {
		if (f >= end)
			return NULL;
		if (*f == ' ')
			at++;
	}
	return f < end ? f : NULL;
}

/* A decimal number at f (ending at a space, a newline or the end). */
static bool number(const char *f, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (!f || f >= end || *f < '0' || *f > '9')
		return false;
	for (; f < end && *f >= '0' && *f <= '9'; f++) {
		unsigned d = (unsigned)(*f - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (f < end && *f != ' ' && *f != '\n')
		return false;
	*out = v;
	return true;
}

int shmg__proc_parse_stat(const char *line, size_t len, struct shmg__proc_stat *out)
{
	const char *end = line + len, *rp = NULL;

	for (const char *c = line; c < end; c++)
		if (*c == ')')
			rp = c;
	if (!rp || rp + 2 >= end || rp[1] != ' ')
		return -EINVAL;
	const char *state = rp + 2; /* field 3 */
	uint64_t flags, start;
	if (!number(field(state, end, 9), end, &flags) ||
	    !number(field(state, end, 22), end, &start))
		return -EINVAL;
	out->state = *state;
	out->flags = flags;
	out->start = start;
	return 0;
}

int shmg__proc_read_stat(int fd, struct shmg__proc_stat *out)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno; /* ESRCH once the task is gone */
	if (n == 0)
		return -ESRCH;
	return shmg__proc_parse_stat(buf, (size_t)n, out) ? -EIO : 0;
}

#ifdef SHMG_TESTING
int shmg__test_parse_stat(const char *line, size_t len, char *state,
			  uint64_t *flags, uint64_t *start)
{
	struct shmg__proc_stat st;
	int err = shmg__proc_parse_stat(line, len, &st);
	if (!err) {
		*state = st.state;
		*flags = st.flags;
		*start = st.start;
	}
	return err;
}
#endif
