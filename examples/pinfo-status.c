/*
 * pinfo-status: a milk-style processing loop and its monitor over one PINFO
 * file. The loop beats its heartbeat, writes a status (code and message as
 * one unit) every iteration, and does its own "single step -> pause"
 * transitions; the monitor asks for single steps as fast as it can, reads
 * the status back, then asks for exit. Without the lock the exit can be
 * overwritten by the loop's transition and lost; here it always arrives.
 *
 *   pinfo-status DIR
 *
 * Creates DIR/proc.demo.<pid>.shm, prints what happened, removes the file.
 * Exits 1 if the exit was lost (the loop is then killed after 10 s) or a
 * status was read torn.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmguard.h>

static int run_loop(const char *path)
{
	struct shmg_pinfo *p;
	char msg[64];
	int now = SHMG_PINFO_RUN;
	if (shmg_pinfo_open(&p, path, 0) != 0)
		return 1;
	for (long i = 0; now != SHMG_PINFO_EXIT; i++) {
		shmg_pinfo_heartbeat(p);
		snprintf(msg, sizeof(msg), "iteration %ld", i);
		shmg_pinfo_set_status(p, (int)i, msg, NULL);
		shmg_pinfo_transition(p, SHMG_PINFO_STEP, SHMG_PINFO_PAUSE, &now, NULL);
		now = shmg_pinfo_ctrl(p);
	}
	shmg_pinfo_set_status(p, -1, "exited on request", NULL);
	shmg_pinfo_close(p);
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	struct shmg_pinfo *p;
	if (argc != 2) {
		fprintf(stderr, "usage: pinfo-status DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/proc.demo.%06ld.shm", argv[1], (long)getpid());
	struct shmg_pinfo_params pp = {
		.size = sizeof(pp), .file_size = SHMG_PINFO_SIZE_NEW, .name = "demo", .pid = getpid(),
	};
	int err = shmg_pinfo_create(&p, path, &pp, 0600, 0);
	if (err) {
		fprintf(stderr, "pinfo-status: %s: %s\n", path, shmg_error_detail(err));
		return 1;
	}
	pid_t loop = fork();
	if (loop == 0)
		_exit(run_loop(path));
	int torn = 0, reads = 0;
	while (shmg_pinfo_loopcnt(p) == 0) /* the loop is running */
		nanosleep(&(struct timespec){0, 100000}, NULL);
	for (int k = 0; k < 2000; k++) {
		char msg[SHMG_PINFO_MSG_MAX], want[64];
		int code;
		shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL);
		/* (an empty message: the loop has not written one yet) */
		if (shmg_pinfo_get_status(p, &code, msg, sizeof(msg), NULL) >= 0 && msg[0]) {
			snprintf(want, sizeof(want), "iteration %d", code);
			torn += strcmp(msg, want) != 0;
			reads++;
		}
		/* A monitor refreshes at human rates; one that takes the lock
		 * back to back would starve the loop (the lock, like a mutex,
		 * is not fair: a woken waiter can find it taken again). */
		nanosleep(&(struct timespec){0, 20000}, NULL);
	}
	shmg_pinfo_command(p, SHMG_PINFO_EXIT, NULL);
	int status = 0, lost = 1;
	for (int ms = 0; ms < 10000; ms++) {
		if (waitpid(loop, &status, WNOHANG) == loop) {
			lost = 0;
			break;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	if (lost) {
		kill(loop, SIGKILL);
		waitpid(loop, &status, 0);
	}
	char msg[SHMG_PINFO_MSG_MAX];
	int code;
	shmg_pinfo_get_status(p, &code, msg, sizeof(msg), NULL);
	printf("pinfo-status: %lld heartbeats, %d status reads, %d torn, exit %s; last status: %d \"%s\"\n",
	       (long long)shmg_pinfo_loopcnt(p), reads, torn, lost ? "LOST" : "arrived", code, msg);
	shmg_pinfo_close(p);
	unlink(path);
	return lost || torn || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}
