/*
 * atomics-demo: two processes count to a million over MAP_SHARED memory,
 * once with plain increments (which lose updates) and once with
 * shmg_atomic_inc (which loses none). Stand-in main demo until the shmguard
 * tool exists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

#define PER_PROCESS 500000

static uint64_t count_in_two_processes(int atomic)
{
	/* counter, then a start line both processes cross together */
	uint64_t *shared = mmap(NULL, 2 * sizeof(uint64_t), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		perror("mmap");
		exit(EXIT_FAILURE);
	}
	uint64_t *counter = &shared[0], *ready = &shared[1];
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		exit(EXIT_FAILURE);
	}
	shmg_atomic_inc(ready, acq_rel);
	while (shmg_atomic_load(ready, acquire) < 2)
		shmg_cpu_relax();
	for (int i = 0; i < PER_PROCESS; i++) {
		if (atomic)
			shmg_atomic_inc(counter, relaxed);
		else
			(*(volatile uint64_t *)counter)++;
	}
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	uint64_t total = shmg_atomic_load(counter, acquire);
	munmap(shared, 2 * sizeof(uint64_t));
	return total;
}

int main(void)
{
	uint64_t plain = count_in_two_processes(0);
	uint64_t atomic = count_in_two_processes(1);
	printf("two processes, %d increments each (expected %d):\n", PER_PROCESS, 2 * PER_PROCESS);
	printf("  plain ++           %8llu  (%llu lost)\n", (unsigned long long)plain,
	       (unsigned long long)(2 * PER_PROCESS - plain));
	printf("  shmg_atomic_inc    %8llu  (%llu lost)\n", (unsigned long long)atomic,
	       (unsigned long long)(2 * PER_PROCESS - atomic));
	return atomic == 2 * PER_PROCESS ? EXIT_SUCCESS : EXIT_FAILURE;
}
