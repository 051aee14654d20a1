/* deadline.c: the connection list and the watchdog thread of deadline.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "deadline.h"

#define TICK_MS 200

struct deadline_conn {
	struct deadline_conn *prev, *next;
	int fd;
	struct timespec since; /* CLOCK_MONOTONIC */
	bool busy;
	bool shut; /* shut down once already */
};

struct deadline {
	pthread_mutex_t mu; /* the list; held while a socket is shut down, so that deadline_remove
			     * (before MHD closes the descriptor) cannot race it onto a reused number */
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	unsigned seconds;
	unsigned long expired;
	struct deadline_conn head; /* circular list */
};

struct deadline *deadline_new(unsigned seconds)
{
	struct deadline *dl = calloc(1, sizeof(*dl));

	if (!dl)
		return NULL;
	pthread_mutex_init(&dl->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dl->cv, &ca);
	pthread_condattr_destroy(&ca);
	dl->seconds = seconds;
	dl->head.next = dl->head.prev = &dl->head;
	return dl;
}

static double age(const struct timespec *since, const struct timespec *now)
{
	return (double)(now->tv_sec - since->tv_sec) + (double)(now->tv_nsec - since->tv_nsec) / 1e9;
}

static void *watch(void *arg)
{
	struct deadline *dl = arg;

	pthread_mutex_lock(&dl->mu);
	while (!dl->stop) {
		struct timespec now, wake;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct deadline_conn *c = dl->head.next; c != &dl->head; c = c->next) {
			if (c->busy || c->shut || age(&c->since, &now) < (double)dl->seconds)
				continue;
			/* MHD's own loop then sees the connection end and closes it (calling deadline_remove). */
			shutdown(c->fd, SHUT_RDWR);
			c->shut = true;
			dl->expired++;
		}
		wake = now;
		wake.tv_nsec += TICK_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&dl->cv, &dl->mu, &wake);
	}
	pthread_mutex_unlock(&dl->mu);
	return NULL;
}

int deadline_start(struct deadline *dl)
{
	if (pthread_create(&dl->thread, NULL, watch, dl) != 0)
		return -1;
	dl->running = true;
	return 0;
}

void deadline_free(struct deadline *dl)
{
	if (!dl)
		return;
	if (dl->running) {
		pthread_mutex_lock(&dl->mu);
		dl->stop = true;
		pthread_cond_broadcast(&dl->cv);
		pthread_mutex_unlock(&dl->mu);
		pthread_join(dl->thread, NULL);
	}
	while (dl->head.next != &dl->head) /* none left once MHD stopped; freed all the same */
		deadline_remove(dl, dl->head.next);
	pthread_mutex_destroy(&dl->mu);
	pthread_cond_destroy(&dl->cv);
	free(dl);
}

struct deadline_conn *deadline_add(struct deadline *dl, int fd)
{
	struct deadline_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	clock_gettime(CLOCK_MONOTONIC, &c->since);
	pthread_mutex_lock(&dl->mu);
	c->next = &dl->head;
	c->prev = dl->head.prev;
	dl->head.prev->next = c;
	dl->head.prev = c;
	pthread_mutex_unlock(&dl->mu);
	return c;
}

void deadline_remove(struct deadline *dl, struct deadline_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&dl->mu);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	pthread_mutex_unlock(&dl->mu);
	free(c);
}

void deadline_busy(struct deadline *dl, struct deadline_conn *c, bool busy)
{
	if (!c)
		return;
	pthread_mutex_lock(&dl->mu);
	c->busy = busy;
	if (!busy)
		clock_gettime(CLOCK_MONOTONIC, &c->since);
	pthread_mutex_unlock(&dl->mu);
}

unsigned long deadline_expired_count(struct deadline *dl)
{
	unsigned long n;

	pthread_mutex_lock(&dl->mu);
	n = dl->expired;
	pthread_mutex_unlock(&dl->mu);
	return n;
}
