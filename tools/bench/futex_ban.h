/*
 * futex_ban.h: proof that a code path makes no futex system call. A seccomp
 * filter gives every futex call `action`: SECCOMP_RET_KILL_PROCESS (the
 * process dies with SIGSYS), or SECCOMP_RET_TRAP (the call is not made and
 * a SIGSYS handler can count it). Irrevocable: install it in a forked child.
 */
#ifndef SHMG_FUTEX_BAN_H
#define SHMG_FUTEX_BAN_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* Returns 0, or -1 where seccomp is unavailable. */
static inline int tu_ban_futex(unsigned action)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_futex, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	return 0;
}

#endif /* SHMG_FUTEX_BAN_H */
