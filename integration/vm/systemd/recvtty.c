/* recvtty SOCKET OUT: the receiving end of runc's --console-socket protocol for the VM's
 * tests (the guest has no python or socat). Listens on SOCKET, accepts one connection,
 * takes the pty master sent with SCM_RIGHTS, and appends everything read from it to OUT
 * until the terminal's last user is gone (EIO) or the master is closed. With "-" as OUT
 * it only holds the master open until killed. Built statically by run.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what) {
    fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: recvtty SOCKET OUT\n");
        return 2;
    }
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (l < 0 || strlen(argv[1]) >= sizeof(a.sun_path))
        return die("socket");
    strcpy(a.sun_path, argv[1]);
    unlink(argv[1]);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0)
        return die("bind");
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return die("accept");
    char data[256];
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof(ctl)};
    if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) < 0)
        return die("recvmsg");
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    if (!h || h->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "recvtty: no fd received\n");
        return 1;
    }
    int master;
    memcpy(&master, CMSG_DATA(h), sizeof(int));
    close(c);
    close(l);
    unlink(argv[1]);
    int out = -1;
    if (strcmp(argv[2], "-") != 0) {
        out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0)
            return die(argv[2]);
    }
    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out >= 0 && write(out, buf, n) != n)
            return die("write");
    }
    return 0;
}
