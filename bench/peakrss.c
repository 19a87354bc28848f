/* SPDX-License-Identifier: MIT */
/*
 * peakrss OUT CMD [ARGS...]: runs CMD and writes its peak RSS in KiB to OUT, then exits with
 * its status. A small C parent matters: Linux folds the RSS a child had before exec (a copy of
 * its parent's memory) into ru_maxrss, so a child forked by Python reports Python's RSS too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: peakrss OUT CMD [ARGS...]\n");
                return 2;
        }
        pid_t pid = fork();
        if (pid < 0)
                return 3;
        if (pid == 0) {
                execvp(argv[2], argv + 2);
                _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) != pid)
                return 3;
        FILE *f = fopen(argv[1], "w");
        if (!f)
                return 3;
        fprintf(f, "%ld\n", ru.ru_maxrss);
        fclose(f);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
