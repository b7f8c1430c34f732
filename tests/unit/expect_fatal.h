/* Test helper: run fn in a child process and check that it stops with
 * err_fatal (SIGABRT) and a message on stderr that matches a pattern
 * (POSIX extended regex). For limits whose only outcome is a fatal
 * error, which a cmocka test cannot survive in its own process. */
#ifndef MPF_TESTS_EXPECT_FATAL_H
#define MPF_TESTS_EXPECT_FATAL_H

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void expect_fatal(void (*fn)(void), const char *pattern)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0); /* no fatal error: the parent reports it */
    }
    close(fds[1]);
    char out[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
        fail_msg("expected a fatal error (SIGABRT) matching /%s/; the child %s %d; stderr: %s",
                 pattern, WIFSIGNALED(st) ? "died of signal" : "exited with",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), out);
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int m = regexec(&re, out, 0, NULL, 0);
    regfree(&re);
    if (m)
        fail_msg("fatal error does not match /%s/: %s", pattern, out);
}

#endif
