/*
 * replay: a fuzz harness without libFuzzer, for make check. Runs the
 * harness's LLVMFuzzerTestOneInput on every file of the folders named on
 * the command line or, with none, of $srcdir/tests/fuzz/corpus/NAME and
 * $srcdir/tests/fuzz/regress/NAME (NAME: FUZZ_NAME, set when compiled).
 * A missing folder is skipped; an empty run fails. The harness aborts on
 * a failed check, and a sanitizer build reports what it finds.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += n;
		if (len == cap) {
			uint8_t *more = realloc(buf, cap * 2);
			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
			cap *= 2;
		}
	}
	int bad = ferror(f) || !buf;
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order. Returns the count, or -1. */
static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : (fprintf(stderr, "replay: %s: %s\n", dir,
						       strerror(errno)), -1);
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char **more = realloc(names, (n + 1) * sizeof(*names));
		if (!more || !(more[n] = strdup(e->d_name))) {
			fprintf(stderr, "replay: out of memory\n");
			exit(99);
		}
		names = more;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), compare);
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char dirs[2][4096];
	const char *list[2];
	char **folders = argv + 1;
	int nfolders = argc - 1, total = 0;

	if (nfolders == 0) {
		snprintf(dirs[0], sizeof(dirs[0]), "%s/tests/fuzz/corpus/%s", srcdir ? srcdir : ".",
			 FUZZ_NAME);
		snprintf(dirs[1], sizeof(dirs[1]), "%s/tests/fuzz/regress/%s", srcdir ? srcdir : ".",
			 FUZZ_NAME);
		list[0] = dirs[0];
		list[1] = dirs[1];
		folders = (char **)list;
		nfolders = 2;
	}
	/* What the harness prints (the tool's views) is not wanted here. */
	if (!freopen("/dev/null", "w", stdout))
		return 99;
	for (int i = 0; i < nfolders; i++) {
		int n = run_dir(folders[i]);
		if (n < 0)
			return 1;
		fprintf(stderr, "replay %s: %d inputs from %s\n", FUZZ_NAME, n, folders[i]);
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay %s: no inputs found\n", FUZZ_NAME);
		return 1;
	}
	return 0;
}
