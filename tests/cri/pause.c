/* The pod sandbox's pause process: PID 1 of the pod, holding its namespaces.
 * Sleeps until SIGINT or SIGTERM (then exits 0) and reaps every child that ends
 * (containers that share the pod's PID namespace are reparented to it).
 * Built static (gcc -static -O2) into the image's only file, /pause. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int handle(int sig, void (*fn)(int), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int main(void) {
	static const char msg[] = "pause: cannot install signal handlers\n";
	if (handle(SIGINT, on_stop, 0) || handle(SIGTERM, on_stop, 0) ||
	    handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART)) {
		ssize_t n = write(2, msg, sizeof msg - 1);
		(void)n;
		return 1;
	}
	if (getpid() != 1) {
		static const char warn[] = "pause: warning: not PID 1\n";
		ssize_t n = write(2, warn, sizeof warn - 1);
		(void)n;
	}
	for (;;)
		pause();
}
