// The floor for `poscuda protect` of short clips on a folder store: only the system calls a clip cannot do without,
// no ledger, no runtime. Usage: syscall-floor SRC DST MODE THREADS, where SRC holds folders of files (one level).
// MODE w: today's design, per clip openat, statx, read (whole), close; openat (O_EXCL temporary), write (whole),
//         statx, close, renameat; one byte is changed in between (the "patch").
// MODE c: the kernel-side copy: openat, statx, read (header and patch region, 2 KiB), openat (temporary),
//         copy_file_range (whole), pwrite (the 1,920-byte patch), close (source), statx, close, renameat.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src, *dst;
static int mode, nthreads, nfolders;
static char **folders;

static void fail(const char *what, const char *name) { perror(what); fprintf(stderr, "  at %s\n", name); exit(1); }

static void *work(void *arg) {
  static __thread char buf[1 << 20];
  for (long f = (long)arg; f < nfolders; f += nthreads) {
    char sp[4096], dp[4096], tmp[512];
    snprintf(sp, sizeof sp, "%s/%s", src, folders[f]);
    snprintf(dp, sizeof dp, "%s/%s", dst, folders[f]);
    mkdir(dp, 0777);
    int sd = open(sp, O_RDONLY | O_DIRECTORY), dd = open(dp, O_RDONLY | O_DIRECTORY);
    DIR *d = opendir(sp);
    if (sd < 0 || dd < 0 || !d) fail("open folder", sp);
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      struct statx sx;
      int in = openat(sd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (in < 0 || statx(in, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MTIME, &sx) != 0) fail("open source", e->d_name);
      if (sx.stx_size > sizeof buf) continue;
      snprintf(tmp, sizeof tmp, ".%s.tmp-%lx", e->d_name, random());
      int out;
      if (mode == 'w') {
        ssize_t n = read(in, buf, sx.stx_size);
        close(in);
        if (n < 100) continue;
        buf[n / 2] ^= 1;
        out = openat(dd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (out < 0 || write(out, buf, n) != n) fail("write", tmp);
      } else {
        ssize_t n = read(in, buf, sx.stx_size < 2048 ? sx.stx_size : 2048);
        if (n < 100) { close(in); continue; }
        buf[n / 2] ^= 1;
        out = openat(dd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        loff_t a = 0, b = 0;
        size_t patch = n - 44 < 1920 ? n - 44 : 1920;
        if (out < 0 || copy_file_range(in, &a, out, &b, sx.stx_size, 0) != (ssize_t)sx.stx_size ||
            pwrite(out, buf + 44, patch, 44) != (ssize_t)patch) fail("copy", tmp);
        close(in);
      }
      statx(out, "", AT_EMPTY_PATH, STATX_MTIME, &sx);
      close(out);
      if (renameat(dd, tmp, dd, e->d_name) != 0) fail("rename", tmp);
    }
    closedir(d);
    close(sd);
    close(dd);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s SRC DST w|c THREADS\n", argv[0]); return 2; }
  src = argv[1]; dst = argv[2]; mode = argv[3][0]; nthreads = atoi(argv[4]);
  if (nthreads < 1 || nthreads > 64) nthreads = 1;
  mkdir(dst, 0777);
  DIR *d = opendir(src);
  if (!d) fail("open", src);
  folders = malloc(sizeof(char *) * 100000);
  for (struct dirent *e; (e = readdir(d)) && nfolders < 100000;)
    if (e->d_name[0] != '.') folders[nfolders++] = strdup(e->d_name);
  pthread_t th[64];
  for (long i = 0; i < nthreads; i++) pthread_create(&th[i], 0, work, (void *)i);
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], 0);
  return 0;
}
