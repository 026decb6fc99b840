#ifndef ROOST_CSYSTEM_H
#define ROOST_CSYSTEM_H
// Glibc functionality Swift's Glibc module does not expose (macros, _GNU_SOURCE-only calls).
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC.
int roost_accept(int fd, void *addr, uint32_t *addrlen);
/// Send `len` bytes plus up to `nfds` descriptors (SCM_RIGHTS) over a UNIX socket.
ssize_t roost_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// Receive bytes and up to `maxfds` descriptors (MSG_CMSG_CLOEXEC). *nfds is set to the count received.
ssize_t roost_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);
int roost_setresuid(uid_t r, uid_t e, uid_t s);
int roost_setresgid(gid_t r, gid_t e, gid_t s);
int roost_set_no_new_privs(void);
int roost_set_pdeathsig(int sig);
/// posix_spawn of `path` with argv/envp; fds[i] is dup2'd onto target i+3... see implementation.
/// `map_from[i]` is placed at descriptor `map_to[i]`; every other descriptor >= 3 is closed.
int roost_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const int *map_from, const int *map_to, int nmap);
/// crypt_r wrapper; writes the result into out (size outlen). Returns 0 on success.
int roost_crypt(const char *key, const char *setting, char *out, size_t outlen);
/// Peer credentials of a UNIX socket.
int roost_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);
/// An unlinked temp file in dir (O_TMPFILE, or mkostemp + unlink where unsupported).
int roost_open_tmpfile(const char *dir);
/// An anonymous memory-backed file (memfd_create), close-on-exec; -1 where unsupported.
int roost_memfd(const char *name);
/// A non-blocking, close-on-exec eventfd(2) counting from 0, or -1.
int roost_eventfd(void);
/// statfs(2)'s f_type of the file system holding `path` (a *_SUPER_MAGIC), or -1.
long roost_fs_type(const char *path);
#endif
