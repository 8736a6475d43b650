// bptrace: which functions of a binary run, in the order they first run.
//
//   bptrace FUNCS OUT BINARY -- COMMAND [ARG...]
//
// FUNCS holds "hexaddr name" lines (nm -n of BINARY's unstripped build, one name per address).
// COMMAND runs under ptrace; once it has exec'd BINARY, an int3 replaces the first byte of every
// function in FUNCS. At a function's first hit its byte goes back, the name is appended to OUT and
// the process goes on: one trap per function, not per instruction, so a `hull run` takes
// milliseconds instead of minutes of single-stepping. Processes the command clones are traced too
// (they inherit the breakpoints) until they exec something else; once COMMAND itself has exited,
// the ones still running (a created container's init) get their bytes back and are let go.
// Exits with COMMAND's status.
//
// With BPTRACE_FOLLOW=1 (containerd's shim: its `start` command spawns the serving shim, the
// same binary again): a process that execs BINARY again gets the breakpoints not hit yet and
// stays traced, and nothing is let go when COMMAND exits: bptrace runs until every traced
// process is gone.
//
// A developer tool for integration/hot-text/generate.py; nothing ships it.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

struct fn {
    uintptr_t addr;
    char *name;
    uint8_t orig;
    int hit;
};

static struct fn *fns;
static size_t nfns;
static uintptr_t base;
static char binpath[4096];

// Whether pid now runs BINARY (its /proc/PID/exe).
static int runs_binary(pid_t pid) {
    char p[64], exe[4096];
    snprintf(p, sizeof p, "/proc/%d/exe", pid);
    ssize_t n = readlink(p, exe, sizeof exe - 1);
    if (n < 0) return 0;
    exe[n] = 0;
    return strcmp(exe, binpath) == 0;
}

static void die(const char *what) {
    fprintf(stderr, "bptrace: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int by_addr(const void *a, const void *b) {
    const struct fn *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct fn *lookup(uintptr_t a) {
    size_t lo = 0, hi = nfns;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (fns[m].addr < a) lo = m + 1; else hi = m;
    }
    return lo < nfns && fns[lo].addr == a ? &fns[lo] : NULL;
}

// The load address of BINARY in pid: lowest mapping start minus its file offset (PIE), 0 for a
// fixed-address executable.
static int find_base(pid_t pid) {
    char p[64], line[8192];
    snprintf(p, sizeof p, "/proc/%d/maps", pid);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b, off;
        char perm[8], path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &a, &b, perm, &off, path) >= 4 &&
            strcmp(path, binpath) == 0 && (!found || a - off < base)) {
            base = a - off;
            found = 1;
        }
    }
    fclose(f);
    // A fixed-address executable (ET_EXEC): nm's addresses are the run-time ones already.
    FILE *e = fopen(binpath, "r");
    unsigned char h[18];
    if (e && fread(h, 1, sizeof h, e) == sizeof h && h[16] == 2 && h[17] == 0) base = 0;
    if (e) fclose(e);
    return found ? 0 : -1;
}

static void poke_byte(pid_t p, uintptr_t a, uint8_t v, uint8_t *old) {
    uintptr_t w = a & ~(uintptr_t)7;
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, p, w, 0);
    if (errno) die("PTRACE_PEEKTEXT");
    uint8_t *b = (uint8_t *)&word;
    if (old) *old = b[a - w];
    b[a - w] = v;
    if (ptrace(PTRACE_POKETEXT, p, w, word)) die("PTRACE_POKETEXT");
}

static void load_funcs(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    char line[16384], name[16000];
    size_t cap = 0;
    unsigned long a;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx %15999s", &a, name) != 2) continue;
        if (nfns == cap) {
            cap = cap ? cap * 2 : 4096;
            if (!(fns = realloc(fns, cap * sizeof *fns))) die("realloc");
        }
        fns[nfns++] = (struct fn){a, strdup(name), 0, 0};
    }
    fclose(f);
    qsort(fns, nfns, sizeof *fns, by_addr);
}

// Traced processes other than the command (pid 0 = gone).
static pid_t live[4096];
static int nlive;

static void track(pid_t p, int on) {
    for (int i = 0; i < nlive; i++)
        if (live[i] == (on ? 0 : p)) { live[i] = on ? p : 0; return; }
    if (on && nlive < (int)(sizeof live / sizeof *live)) live[nlive++] = p;
}

static int tracked(pid_t p) {
    for (int i = 0; i < nlive; i++)
        if (live[i] == p) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--")) {
        fprintf(stderr, "usage: bptrace FUNCS OUT BINARY -- COMMAND [ARG...]\n");
        return 2;
    }
    load_funcs(argv[1]);
    if (!realpath(argv[3], binpath)) die(argv[3]);
    FILE *out = fopen(argv[2], "a");
    if (!out) die(argv[2]);

    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[5], argv + 5);
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) < 0) die("waitpid");
    if (ptrace(PTRACE_SETOPTIONS, child, 0,
               PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                   PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL))
        die("PTRACE_SETOPTIONS");
    ptrace(PTRACE_CONT, child, 0, 0);
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st) || st >> 16 != PTRACE_EVENT_EXEC) {
        fprintf(stderr, "bptrace: %s did not exec\n", argv[5]);
        return 1;
    }
    if (find_base(child) < 0) {
        fprintf(stderr, "bptrace: %s is not mapped by %s\n", binpath, argv[5]);
        return 1;
    }
    for (size_t i = 0; i < nfns; i++) poke_byte(child, base + fns[i].addr, 0xcc, &fns[i].orig);

    int follow = getenv("BPTRACE_FOLLOW") && !strcmp(getenv("BPTRACE_FOLLOW"), "1");
    int alive = 1, rc = 1, order = 0, letting_go = 0;
    ptrace(PTRACE_CONT, child, 0, 0);
    while (alive > 0) {
        pid_t p = waitpid(-1, &st, __WALL);
        if (p < 0) {
            if (errno == EINTR) continue;
            die("waitpid");
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            alive--;
            track(p, 0);
            if (p == child) {
                rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                if (follow) continue;
                // Stop the rest; each is let go at its SIGSTOP below.
                letting_go = 1;
                for (int i = 0; i < nlive; i++)
                    if (live[i]) kill(live[i], SIGSTOP);
            }
            continue;
        }
        if (!WIFSTOPPED(st)) continue;
        int sig = WSTOPSIG(st), ev = st >> 16, inject = 0;
        if (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK) {
            unsigned long n;
            ptrace(PTRACE_GETEVENTMSG, p, 0, &n);
            track((pid_t)n, 1);
            alive++;
        } else if (ev == PTRACE_EVENT_EXEC && follow && runs_binary(p)) {
            // BINARY again: a fresh image, at its own address.
            if (find_base(p) < 0) die("find_base after exec");
            for (size_t i = 0; i < nfns; i++)
                if (!fns[i].hit) poke_byte(p, base + fns[i].addr, 0xcc, NULL);
        } else if (ev == PTRACE_EVENT_EXEC) {
            // It runs something else now (the container's process): nothing more to record.
            ptrace(PTRACE_DETACH, p, 0, 0);
            track(p, 0);
            alive--;
            continue;
        } else if (sig == SIGTRAP) {
            struct user_regs_struct r;
            if (ptrace(PTRACE_GETREGS, p, 0, &r)) die("PTRACE_GETREGS");
            struct fn *fn = r.rip > base ? lookup(r.rip - 1 - base) : NULL;
            if (fn) {
                poke_byte(p, r.rip - 1, fn->orig, NULL);
                r.rip--;
                if (ptrace(PTRACE_SETREGS, p, 0, &r)) die("PTRACE_SETREGS");
                if (!fn->hit) {
                    fn->hit = ++order;
                    fprintf(out, "%s\n", fn->name);
                }
            } else {
                inject = sig;
            }
        } else if (sig == SIGSTOP && letting_go && tracked(p)) {
            for (size_t i = 0; i < nfns; i++) poke_byte(p, base + fns[i].addr, fns[i].orig, NULL);
            ptrace(PTRACE_DETACH, p, 0, 0);
            track(p, 0);
            alive--;
            continue;
        } else if (sig != SIGSTOP) {
            inject = sig;  // SIGSTOP: a new clone's first stop
        }
        ptrace(PTRACE_CONT, p, 0, inject);
    }
    fclose(out);
    fprintf(stderr, "bptrace: %d functions ran\n", order);
    return rc;
}
