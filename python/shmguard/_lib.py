"""The C side: libshmguard's public declarations, loaded with cffi (ABI mode).

Only functions exported by libshmguard (lib/libshmguard.sym) and declared in
include/shmguard/*.h are declared here; the structs are copied field for field
from those headers (sized structs: the library reads and writes only what fits
in their `size`, so a binding that lags behind the headers stays correct).

The library is found, in order: $SHMGUARD_LIBRARY (a path), then the
installed soname libshmguard.so.1 through the dynamic loader's search path.
"""
from __future__ import annotations

import os

import cffi

SONAME = "libshmguard.so.1"

CDEF = r"""
typedef int pid_t;
typedef unsigned int mode_t;
struct timespec { long tv_sec; long tv_nsec; };

/* error.h */
const char *shmg_strerror(int err);
const char *shmg_error_detail(int err);
typedef void (*shmg_recover_report_fn)(void *arg, int result, const char *text);
struct shmg_recover_opts {
    uint32_t size; uint32_t flags; shmg_recover_report_fn report; void *report_arg;
    int32_t force_pid;
};

/* wait.h */
int shmg_deadline_in(struct timespec *dl, uint64_t ns);

/* region.h */
struct shmg_region;
void *shmg_region_base(const struct shmg_region *r);
size_t shmg_region_size(const struct shmg_region *r);
int shmg_region_fd(const struct shmg_region *r);
int shmg_region_from_fd(struct shmg_region **r, int fd, unsigned flags);
void shmg_region_close(struct shmg_region *r);
_Bool shmg_region_truncated(const struct shmg_region *r);
_Bool shmg_region_writable(const struct shmg_region *r);

/* wflag.h (the snapshot a read hands back; a pinned copy) */
struct shmg_wflag_snap { uint32_t size; uint32_t retries; uint64_t frame; int32_t copy; };
struct shmg_wflag_pinned {
    uint32_t size; uint32_t retries; uint64_t frame; const void *data; size_t len; uint32_t copy;
};

/* xlock.h */
struct shmg_xlock { void *shmg__word; uint32_t shmg__width; uint32_t shmg__reserved[5]; };
struct shmg_xlock_info {
    uint32_t size; uint32_t state; pid_t owner_tid; int owner_alive; int waiters;
    uint32_t width; uint64_t raw;
};
int shmg_xlock_inspect(const struct shmg_xlock *l, struct shmg_xlock_info *info);
int shmg_xlock_lock(const struct shmg_xlock *l);
int shmg_xlock_unlock(const struct shmg_xlock *l);

/* isio.h */
struct shmg_isio;
struct shmg_isio_params {
    uint32_t size; uint8_t naxis; uint8_t datatype; uint16_t nsem; uint32_t dims[3];
    uint16_t nkw; uint32_t cbsize; uint64_t imagetype; const char *name;
};
struct shmg_isio_layout {
    uint32_t size; uint8_t naxis, datatype; uint16_t nsem, nkw, nproctrace;
    uint32_t dims[3]; uint32_t cbsize; uint64_t nelement, imagetype;
    size_t elem_size, data_size; _Bool has_data;
    size_t off_data, off_kw, off_sem, off_semlog, off_semreadpid, off_semwritepid,
        off_semctrl, off_semstatus, off_proctrace, off_slicetimes, off_cbmd, off_cbdata;
    size_t file_size;
};
int shmg_isio_path(char *buf, size_t len, const char *name);
int shmg_isio_layout_of(struct shmg_isio_layout *l, const struct shmg_isio_params *p);
int shmg_isio_create(struct shmg_isio **s, const char *path, const struct shmg_isio_params *p,
                     mode_t mode, unsigned flags);
int shmg_isio_open(struct shmg_isio **s, const char *path, unsigned flags);
void shmg_isio_close(struct shmg_isio *s);
const struct shmg_region *shmg_isio_region(const struct shmg_isio *s);
int shmg_isio_get_layout(const struct shmg_isio *s, struct shmg_isio_layout *l);
void *shmg_isio_data(const struct shmg_isio *s);
int shmg_isio_claim(struct shmg_isio *s);
int shmg_isio_release(struct shmg_isio *s);
int shmg_isio_write(struct shmg_isio *s, const void *frame, size_t len, uint64_t *cnt);
void *shmg_isio_begin(struct shmg_isio *s);
int shmg_isio_publish(struct shmg_isio *s, uint64_t *cnt);
int shmg_isio_read(const struct shmg_isio *s, void *dst, size_t len,
                   struct shmg_wflag_snap *snap, const struct timespec *deadline);
uint64_t shmg_isio_counter(const struct shmg_isio *s);
int shmg_isio_wait(const struct shmg_isio *s, uint64_t after, uint64_t *now,
                   const struct timespec *deadline);
int shmg_isio_sem_claim(struct shmg_isio *s, int *slot);
int shmg_isio_sem_release(struct shmg_isio *s);
int shmg_isio_pin(const struct shmg_isio *s, struct shmg_wflag_pinned *pin);
int shmg_isio_unpin(const struct shmg_isio *s);
int shmg_isio_pin_policy(struct shmg_isio *s, unsigned full, uint64_t wait_ns);
struct shmg_isio_info {
    uint32_t size; char name[81]; uint8_t write; uint8_t waiters;
    uint64_t cnt0, cnt1, cnt2; uint32_t cbindex; uint64_t cbcycle;
    int32_t creator_pid; int32_t owner_pid; int owner_alive; uint8_t semlog_damaged;
    uint8_t writer_kind;
};
int shmg_isio_inspect(const struct shmg_isio *s, struct shmg_isio_info *info);
struct shmg_isio_slot_info {
    uint32_t size; int value; int32_t reader; int reader_alive; int32_t poster;
    uint8_t damaged; int32_t pin_copy; uint64_t pin_frame; int8_t pin_locked;
    uint8_t pin_revoked;
};
int shmg_isio_inspect_slot(const struct shmg_isio *s, unsigned k, struct shmg_isio_slot_info *info);
int shmg_isio_recover(struct shmg_isio *s, const struct shmg_recover_opts *opts);

/* milk.h: PINFO */
struct shmg_pinfo;
struct shmg_pinfo_params { uint32_t size; uint32_t file_size; const char *name; pid_t pid; };
int shmg_pinfo_path(char *buf, size_t len, const char *name, pid_t pid);
int shmg_pinfo_open(struct shmg_pinfo **p, const char *path, unsigned flags);
int shmg_pinfo_create(struct shmg_pinfo **p, const char *path, const struct shmg_pinfo_params *what,
                      mode_t mode, unsigned flags);
void shmg_pinfo_close(struct shmg_pinfo *p);
const struct shmg_region *shmg_pinfo_region(const struct shmg_pinfo *p);
int shmg_pinfo_status_lock(const struct shmg_pinfo *p, struct shmg_xlock *l);
int shmg_pinfo_command(struct shmg_pinfo *p, int cmd, const struct timespec *deadline);
int shmg_pinfo_transition(struct shmg_pinfo *p, int from, int to, int *now,
                          const struct timespec *deadline);
int shmg_pinfo_ctrl(const struct shmg_pinfo *p);
int shmg_pinfo_set_status(struct shmg_pinfo *p, int code, const char *msg,
                          const struct timespec *deadline);
int shmg_pinfo_get_status(const struct shmg_pinfo *p, int *code, char *msg, size_t len,
                          const struct timespec *deadline);
int64_t shmg_pinfo_heartbeat(struct shmg_pinfo *p);
int64_t shmg_pinfo_loopcnt(const struct shmg_pinfo *p);
struct shmg_pinfo_info {
    uint32_t size; uint32_t file_size; char name[81]; int32_t pid; int pid_alive;
    int ctrl, loopstat, statuscode; int64_t loopcnt; char statusmsg[200]; size_t lock_offset;
};
int shmg_pinfo_inspect(const struct shmg_pinfo *p, struct shmg_pinfo_info *info);
int shmg_pinfo_recover(struct shmg_pinfo *p, const struct shmg_recover_opts *opts);

/* milk.h: FPS */
struct shmg_fps;
struct shmg_fps_opts { uint32_t size; uint32_t layout; };
struct shmg_fps_params { uint32_t size; uint32_t layout; uint32_t nparam; const char *name; };
int shmg_fps_path(char *buf, size_t len, const char *name);
int shmg_fps_open(struct shmg_fps **f, const char *path, unsigned flags,
                  const struct shmg_fps_opts *opts);
int shmg_fps_create(struct shmg_fps **f, const char *path, const struct shmg_fps_params *what,
                    mode_t mode, unsigned flags);
void shmg_fps_close(struct shmg_fps *f);
const struct shmg_region *shmg_fps_region(const struct shmg_fps *f);
int shmg_fps_param_lock(const struct shmg_fps *f, unsigned i, struct shmg_xlock *l);
int shmg_fps_find(const struct shmg_fps *f, const char *name, unsigned *index);
int shmg_fps_set(struct shmg_fps *f, unsigned i, const void *val, size_t len, int64_t *cnt,
                 const struct timespec *deadline);
int shmg_fps_get(const struct shmg_fps *f, unsigned i, void *val, size_t len, int64_t *cnt,
                 const struct timespec *deadline);
int shmg_fps_read_rt(const struct shmg_fps *f, unsigned i, void *val, size_t len, int64_t *cnt);
int shmg_fps_update(struct shmg_fps *f, unsigned i, int (*fn)(void *value, void *arg), void *arg,
                    int64_t *cnt, const struct timespec *deadline);
int shmg_fps_flags(struct shmg_fps *f, unsigned i, uint64_t set, uint64_t clear, uint64_t *flags);
int shmg_fps_lock_all(struct shmg_fps *f, const struct timespec *deadline);
int shmg_fps_unlock_all(struct shmg_fps *f);
int shmg_fps_set_locked(struct shmg_fps *f, unsigned i, const void *val, size_t len, int64_t *cnt);
struct shmg_fps_info {
    uint32_t size; uint32_t layout; uint32_t nparam; char name[101]; uint64_t signal; uint64_t cnt_sum;
};
int shmg_fps_inspect(const struct shmg_fps *f, struct shmg_fps_info *info);
struct shmg_fps_param_info {
    uint32_t size; uint32_t type; uint64_t fpflag; int64_t cnt0; char keyword[1281];
    unsigned char value[128]; size_t lock_offset;
};
int shmg_fps_inspect_param(const struct shmg_fps *f, unsigned i, struct shmg_fps_param_info *info);
int shmg_fps_recover(struct shmg_fps *f, const struct shmg_recover_opts *opts);

"""

ffi = cffi.FFI()
ffi.cdef(CDEF)


def _load():
    path = os.environ.get("SHMGUARD_LIBRARY")
    if path:
        try:
            return ffi.dlopen(path), path
        except OSError as e:
            raise ImportError(
                f"shmguard: SHMGUARD_LIBRARY={path!r} cannot be loaded: {e}") from e
    try:
        return ffi.dlopen(SONAME), SONAME
    except OSError as e:
        raise ImportError(
            f"shmguard: {SONAME} not found by the dynamic loader ({e}); install "
            "libshmguard, or set SHMGUARD_LIBRARY to the library's path "
            "(a build tree has it in .libs/)") from e


lib, library_path = _load()

# libc's mapping calls, for the guard window of pinned reads (stream.py):
# not libshmguard's API, so in an FFI of their own.
libc_ffi = cffi.FFI()
libc_ffi.cdef("""
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t len, int prot);
""")
libc = libc_ffi.dlopen(None)

# Constants of the headers (ABI mode cannot read #defines).
SHMG_OWNERDEAD = 1
SHMG_RECOVERED = 2
SHMG_STALE = 3
SHMG_ENOTRECOVERABLE = -30998
SHMG_ELAYOUT = -30997
SHMG_EGARBAGE = -30996
SHMG_EWRITERDEAD = -30995
SHMG_ETOOFAST = -30994
SHMG_ETORN = -30993
SHMG_ENOTOWNER = -30992
SHMG_EDEADLK = -30991
SHMG_ECOUNTER = -30990
SHMG_ETRUNCATED = -30989
SHMG_EREVOKED = -30988
SHMG_REGION_RDONLY = 1 << 0
SHMG_REGION_FOLLOW = 1 << 1
SHMG_REGION_REPLACE = 1 << 2
SHMG_REGION_TRUNCATION = 1 << 3
SHMG_RECOVER_DRY_RUN = 1 << 0
SHMG_RECOVER_BLANK = 1 << 1
SHMG_WFLAG_FULL_WAIT = 0
SHMG_WFLAG_FULL_DROP = 1
SHMG_WFLAG_FULL_REVOKE = 2
SHMG_FPS_RT_TRIES = 64
SHMG_PROC_DEAD = 0
SHMG_PROC_ALIVE = 1
PATH_MAX = 4096
