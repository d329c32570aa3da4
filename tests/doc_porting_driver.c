/*
 * Runs the writer and reader of doc/porting-imagestreamio.md against each
 * other: a stream is created, the writer runs in a child, the reader in
 * the parent, and every frame the reader gets must be whole and numbered.
 */

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

int run_writer(const char *path, void *frame, int nframes);
int run_reader(const char *path, void *frame, int nframes, uint64_t *missed);

#define FRAMES 1000

static int bad, seen;

void camera_read(void *frame, size_t bytes, uint64_t n)
{
	usleep(500); /* a 2 kHz camera */
	memset(frame, (int)(n & 0xff), bytes);
}

void process(const void *frame, size_t bytes, uint64_t n)
{
	const unsigned char *p = frame;
	for (size_t i = 0; i < bytes; i++)
		if (p[i] != (unsigned char)(n & 0xff)) {
			bad++;
			break;
		}
	seen++;
}

int main(void)
{
	char dir[] = "/tmp/shmg-porting.XXXXXX", path[64];
	struct shmg_isio *s;
	struct shmg_isio_params p = {.size = sizeof(p), .name = "wfs", .naxis = 2,
				     .dims = {128, 128}, .datatype = SHMG_ISIO_FLOAT, .cbsize = 4};
	struct shmg_isio_layout l = {.size = sizeof(l)};
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/wfs.im.shm", dir);
	if (shmg_isio_create(&s, path, &p, 0600, 0) != 0)
		return 1;
	shmg_isio_get_layout(s, &l);
	size_t bytes = l.data_size;
	shmg_isio_close(s);
	void *frame = malloc(bytes);

	/* The writer writes until the reader, started at the same time, has
	 * read FRAMES / 2 frames (however slow it is: under qemu, very), then
	 * it is stopped; it must not have failed before. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(run_writer(path, frame, INT_MAX) == 0 ? 0 : 1);
	uint64_t missed = 0;
	int err = run_reader(path, frame, FRAMES / 2, &missed);
	int status;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	free(frame);
	unlink(path);
	rmdir(dir);
	bool writer_ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	printf("porting example: %d frames read, %llu missed, %d torn, reader %s, writer %s\n",
	       seen, (unsigned long long)missed, bad, shmg_strerror(err),
	       writer_ok ? "stopped while writing" : "ended early");
	return err == 0 && bad == 0 && seen == FRAMES / 2 && writer_ok ? 0 : 1;
}
