/* rusage.c: run a program and write what the kernel says it used (make bench: scripts/bench_vs.py).
 *
 * Usage: rusage OUTFILE PROGRAM [ARGS...]
 *   Forks, execs PROGRAM (stdio inherited), waits for it with wait4 and writes one line to OUTFILE:
 *   "status S user_ms U sys_ms Y maxrss_kb M". Exits with PROGRAM's status.
 * Why a program of its own: Linux keeps ru_maxrss across execve and starts it from the memory of
 * the process that forked, so a child forked straight from the bench's Python would report
 * Python's 25 MiB. Forked from this small process, PROGRAM's ru_maxrss is its own peak. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: rusage OUTFILE PROGRAM [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("rusage: exec");
		_exit(127);
	}
	int st = 0;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("rusage: wait4");
		return 1;
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("rusage: OUTFILE");
		return 1;
	}
	fprintf(f, "status %d user_ms %.3f sys_ms %.3f maxrss_kb %ld\n", code,
		(double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3,
		(double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3, ru.ru_maxrss);
	fclose(f);
	return code;
}
