/*
 * pace: constant-rate (open-loop) HTTP/1.1 load for the benchmark's fixed-load latency table.
 *
 * Request k is due at t0 + k / RATE, whatever happened to the requests before it, and goes out on
 * whichever of the CONNECTIONS keep-alive connections is idle; when none is, it waits for one.
 * Its latency is measured from the time it was due, not from the time it was sent, so a server
 * that stalls is charged for every request that piled up behind the stall (no coordinated
 * omission). Every answer is checked against what its own request expects (exactly: the
 * connection knows which request it carried).
 *
 *   pace HOST PORT RATE WARMUP_SECONDS SECONDS CONNECTIONS REQUESTS_FILE LATENCIES_OUT
 *
 * REQUESTS_FILE: "<count>\n", then per request "<length> <expectations>\n", the raw request bytes,
 * and one line per expectation: "h <name> <value>\n" (a response header, name in any case, value
 * exact) or "b <text>\n" (the body contains text, each after the previous one). Requests are used
 * in turn, starting at a random one.
 *
 * LATENCIES_OUT receives the latencies (float64 microseconds, in completion order) of the
 * requests due after the warm-up. One line goes to stdout:
 * BENCH_RESULT {"offeredRps", "measured", "completed", "checked", "mismatches", "statusErrors",
 *   "readErrors", "connectErrors", "timeouts", "unanswered", "late", "maxBacklog", "durationUs"}
 * where late counts the requests sent more than 1 ms after they were due (every connection was
 * waiting for an answer, or the load core was busy), and unanswered the measured requests with
 * no answer at the end. A connection the server closes is dialled again; the request on it, if
 * any, is lost and counted (readErrors).
 *
 * Self-contained on purpose: no Debian tool found rotates a header per request at a constant
 * rate. h2load --rps and hey -q send the same headers every time and pace each connection on its
 * own, so a slow answer holds back that connection's next requests (and is then measured from
 * when it was sent); and the answers must be checked anyway.
 *
 * Build: cc -O2 -o pace pace.c (the benchmark does this itself).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_NS (5ULL * 1000000000ULL)
#define LATE_NS 1000000ULL
#define DRAIN_NS (5ULL * 1000000000ULL)

typedef struct {
  char kind; /* 'h' or 'b' */
  char *name;
  char *value;
  size_t value_len;
} expectation;

typedef struct {
  char *bytes;
  size_t len;
  int n_expect;
  expectation *expect;
} request;

enum { CONNECTING, IDLE, BUSY };

typedef struct conn {
  int fd;
  int state;
  uint64_t job;  /* index of the request in flight */
  uint64_t sent_at;
  const request *req;
  size_t written;
  char *buf;
  size_t len, cap;
  size_t header_end; /* 0 until the header is complete */
  long content_length;
  int chunked;
  int close_after;
  int status;
  int wants_out; /* EPOLLOUT is registered */
  struct conn *next_idle;
} conn;

static struct sockaddr_in address;
static int ep, tfd;
static conn *conns, *idle, *idle_tail; /* idle: a FIFO, so that every connection stays in use */
static request *requests;
static size_t n_requests, offset;
static double rate;
static uint64_t t0, warmup_ns, total_jobs, next_job, first_measured;
static double *latencies;
static uint64_t n_latencies, cap_latencies;
static uint64_t completed, checked, mismatches, status_errors, read_errors, connect_errors, timeouts, late, max_backlog, answered_measured;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t due_at(uint64_t job) { return t0 + (uint64_t)((double)job * 1e9 / rate); }

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void *must(void *p) {
  if (p == NULL) die("out of memory");
  return p;
}

static void load_requests(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die(path);
  if (fscanf(f, "%zu", &n_requests) != 1 || n_requests == 0 || fgetc(f) != '\n') {
    fprintf(stderr, "pace: %s: bad count\n", path);
    exit(2);
  }
  requests = must(calloc(n_requests, sizeof *requests));
  for (size_t i = 0; i < n_requests; i++) {
    request *r = &requests[i];
    if (fscanf(f, "%zu %d", &r->len, &r->n_expect) != 2 || fgetc(f) != '\n') {
      fprintf(stderr, "pace: %s: bad record %zu\n", path, i);
      exit(2);
    }
    r->bytes = must(malloc(r->len));
    if (fread(r->bytes, 1, r->len, f) != r->len) die("short request");
    r->expect = must(calloc((size_t)r->n_expect + 1, sizeof *r->expect));
    for (int e = 0; e < r->n_expect; e++) {
      char *line = NULL;
      size_t cap = 0;
      ssize_t n = getline(&line, &cap, f);
      if (n < 3 || line[1] != ' ' || (line[0] != 'h' && line[0] != 'b')) {
        fprintf(stderr, "pace: %s: bad expectation in record %zu\n", path, i);
        exit(2);
      }
      if (line[n - 1] == '\n') line[--n] = '\0';
      expectation *x = &r->expect[e];
      x->kind = line[0];
      if (x->kind == 'h') {
        char *space = strchr(line + 2, ' ');
        if (space == NULL) {
          fprintf(stderr, "pace: %s: header expectation without a value in record %zu\n", path, i);
          exit(2);
        }
        *space = '\0';
        x->name = line + 2;
        x->value = space + 1;
      } else {
        x->value = line + 2;
      }
      x->value_len = strlen(x->value);
    }
  }
  fclose(f);
}

static void watch(conn *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &ev) != 0) die("epoll_ctl");
  c->wants_out = (events & EPOLLOUT) != 0;
}

static void open_connection(conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0 && errno != EINPROGRESS) die("connect");
  c->state = CONNECTING;
  c->len = 0;
  c->header_end = 0;
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void make_idle(conn *c) {
  c->state = IDLE;
  c->next_idle = NULL;
  if (idle_tail != NULL) idle_tail->next_idle = c;
  else idle = c;
  idle_tail = c;
}

static conn *take_idle(void) {
  conn *c = idle;
  idle = c->next_idle;
  if (idle == NULL) idle_tail = NULL;
  return c;
}

/* Drops the connection (and the request on it, if any) and dials again. */
static void reconnect(conn *c) {
  if (c->state == IDLE) {
    conn *previous = NULL;
    for (conn *p = idle; p != NULL; previous = p, p = p->next_idle) {
      if (p != c) continue;
      if (previous != NULL) previous->next_idle = c->next_idle;
      else idle = c->next_idle;
      if (idle_tail == c) idle_tail = previous;
      break;
    }
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_connection(c);
}

static void flush(conn *c) {
  while (c->written < c->req->len) {
    ssize_t n = write(c->fd, c->req->bytes + c->written, c->req->len - c->written);
    if (n > 0) {
      c->written += (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      if (!c->wants_out) watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
      return;
    } else {
      read_errors++;
      reconnect(c);
      return;
    }
  }
  if (c->wants_out) watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* Sends every request that is due, oldest first, while there are idle connections. */
static void send_due(uint64_t now) {
  while (next_job < total_jobs && idle != NULL) {
    uint64_t due = due_at(next_job);
    if (due > now) break;
    conn *c = take_idle();
    c->state = BUSY;
    c->job = next_job;
    c->sent_at = now;
    c->req = &requests[(offset + next_job) % n_requests];
    c->written = 0;
    if (now - due > LATE_NS) late++;
    next_job++;
    flush(c);
  }
  if (next_job < total_jobs) {
    uint64_t due = due_at(next_job);
    uint64_t backlog = due <= now ? (uint64_t)((double)(now - t0) * rate / 1e9) + 1 - next_job : 0;
    if (backlog > max_backlog) max_backlog = backlog;
  }
}

/* Arms the timer for the next request when a connection is free for it (0: disarmed). */
static void arm_timer(void) {
  static uint64_t armed = 0;
  uint64_t due = next_job < total_jobs && idle != NULL ? due_at(next_job) : 0;
  if (due == armed) return;
  struct itimerspec spec = {0};
  spec.it_value.tv_sec = (time_t)(due / 1000000000ULL);
  spec.it_value.tv_nsec = (long)(due % 1000000000ULL);
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, NULL) != 0) die("timerfd_settime");
  armed = due;
}

static const char *find_header(const conn *c, const char *name, size_t *value_len) {
  size_t name_len = strlen(name);
  const char *p = memchr(c->buf, '\n', c->header_end);
  const char *end = c->buf + c->header_end;
  while (p != NULL && p + 1 < end) {
    const char *line = p + 1;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (eol == NULL) break;
    if ((size_t)(eol - line) > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
      const char *v = line + name_len + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
      *value_len = (size_t)(ve - v);
      return v;
    }
    p = eol;
  }
  return NULL;
}

/* Parses the status line and header once the blank line has arrived; 0 when not yet, -1 on junk. */
static int parse_header(conn *c) {
  char *blank = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (blank == NULL) return 0;
  c->header_end = (size_t)(blank - c->buf) + 4;
  if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
  c->status = atoi(c->buf + 9);
  size_t n;
  const char *v;
  c->content_length = -1;
  c->chunked = 0;
  c->close_after = 0;
  if ((v = find_header(c, "content-length", &n)) != NULL) c->content_length = strtol(v, NULL, 10);
  if ((v = find_header(c, "transfer-encoding", &n)) != NULL && n >= 7 && strncasecmp(v + n - 7, "chunked", 7) == 0) c->chunked = 1;
  if ((v = find_header(c, "connection", &n)) != NULL && n == 5 && strncasecmp(v, "close", 5) == 0) c->close_after = 1;
  if (!c->chunked && c->content_length < 0) c->content_length = (c->status == 204 || c->status == 304) ? 0 : -1;
  return c->content_length < 0 && !c->chunked ? -1 : 1;
}

/*
 * With a chunked body: when it is complete, de-chunks it in place, sets *consumed to the bytes
 * the response took, and returns the body's length; -1 while incomplete, -2 on junk. (Node sends
 * chunked only when no length was set.)
 */
static long dechunk(conn *c, size_t *consumed) {
  /* First make sure it is all there, touching nothing: this may be called again with more. */
  size_t p = c->header_end;
  for (;;) {
    char *eol = memmem(c->buf + p, c->len - p, "\r\n", 2);
    if (eol == NULL) return -1;
    char *endp;
    unsigned long size = strtoul(c->buf + p, &endp, 16);
    if (endp == c->buf + p) return -2;
    size_t data = (size_t)(eol - c->buf) + 2;
    if (size == 0) {
      char *trailer_end = memmem(c->buf + data - 2, c->len - (data - 2), "\r\n\r\n", 4);
      if (trailer_end == NULL) return -1;
      *consumed = (size_t)(trailer_end - c->buf) + 4;
      break;
    }
    if (c->len < data + size + 2) return -1;
    p = data + size + 2;
  }
  size_t out = c->header_end;
  p = c->header_end;
  for (;;) {
    char *eol = memmem(c->buf + p, c->len - p, "\r\n", 2);
    unsigned long size = strtoul(c->buf + p, NULL, 16);
    size_t data = (size_t)(eol - c->buf) + 2;
    if (size == 0) return (long)(out - c->header_end);
    memmove(c->buf + out, c->buf + data, size); /* backwards only: the rest stays in place */
    out += size;
    p = data + size + 2;
  }
}

static int answer_matches(const conn *c, const char *body, size_t body_len) {
  const char *from = body;
  size_t left = body_len;
  for (int e = 0; e < c->req->n_expect; e++) {
    const expectation *x = &c->req->expect[e];
    if (x->kind == 'h') {
      size_t n;
      const char *v = find_header(c, x->name, &n);
      if (v == NULL || n != x->value_len || memcmp(v, x->value, n) != 0) return 0;
    } else {
      const char *at = memmem(from, left, x->value, x->value_len);
      if (at == NULL) return 0;
      left -= (size_t)(at - from) + x->value_len;
      from = at + x->value_len;
    }
  }
  return 1;
}

static void record_latency(uint64_t job, uint64_t now) {
  if (job < first_measured) return;
  answered_measured++;
  if (n_latencies == cap_latencies) {
    cap_latencies = cap_latencies ? cap_latencies * 2 : 65536;
    latencies = must(realloc(latencies, cap_latencies * sizeof *latencies));
  }
  latencies[n_latencies++] = (double)(now - due_at(job)) / 1000.0;
}

static void on_readable(conn *c, uint64_t now) {
  int eof = 0;
  for (;;) {
    if (c->cap - c->len < 16384) {
      c->cap = c->cap ? c->cap * 2 : 65536;
      c->buf = must(realloc(c->buf, c->cap));
    }
    size_t room = c->cap - c->len;
    ssize_t n = read(c->fd, c->buf + c->len, room);
    if (n > 0) {
      c->len += (size_t)n;
      if ((size_t)n < room) break; /* a short read: nothing more for now */
      continue;
    }
    if (n < 0 && errno == EAGAIN) break;
    eof = 1; /* end of stream or an error: take what arrived, then dial again */
    break;
  }
  if (c->state != BUSY) {
    if (c->len > 0) read_errors++;     /* bytes nobody asked for */
    if (c->len > 0 || eof) reconnect(c); /* or the server closed an idle keep-alive connection */
    return;
  }
  int complete = 0;
  size_t consumed = 0;
  long body_len = 0;
  if (c->header_end == 0) {
    int parsed = parse_header(c);
    if (parsed < 0) goto broken;
    if (parsed == 0) goto incomplete;
  }
  if (c->chunked) {
    body_len = dechunk(c, &consumed);
    if (body_len == -2) goto broken;
    complete = body_len >= 0;
  } else if (c->len >= c->header_end + (size_t)c->content_length) {
    body_len = c->content_length;
    consumed = c->header_end + (size_t)c->content_length;
    complete = 1;
  }
  if (!complete) goto incomplete;
  completed++;
  checked++;
  if (c->status != 200) status_errors++;
  if (c->status != 200 || !answer_matches(c, c->buf + c->header_end, (size_t)body_len)) mismatches++;
  record_latency(c->job, now);
  if (consumed != c->len || c->close_after || eof) {
    if (consumed != c->len) read_errors++; /* more than one answer to one request */
    reconnect(c);
    return;
  }
  c->len = 0;
  c->header_end = 0;
  make_idle(c);
  return;
incomplete:
  if (!eof) return;
broken:
  read_errors++; /* the request in flight is lost */
  reconnect(c);
}

static void on_connected(conn *c) {
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) {
    connect_errors++;
    usleep(10000);
    reconnect(c);
    return;
  }
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
  make_idle(c);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: pace HOST PORT RATE WARMUP_SECONDS SECONDS CONNECTIONS REQUESTS_FILE LATENCIES_OUT\n");
    return 2;
  }
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
    fprintf(stderr, "pace: %s is not an IPv4 address\n", argv[1]);
    return 2;
  }
  rate = atof(argv[3]);
  double warmup = atof(argv[4]), seconds = atof(argv[5]);
  int n_conns = atoi(argv[6]);
  if (rate <= 0 || warmup < 0 || seconds <= 0 || n_conns <= 0) {
    fprintf(stderr, "pace: RATE, SECONDS and CONNECTIONS must be positive\n");
    return 2;
  }
  load_requests(argv[7]);
  /* Timers fire when asked, not up to 50 µs later (the default slack). */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct timespec seed;
  clock_gettime(CLOCK_REALTIME, &seed);
  srand((unsigned)(seed.tv_nsec ^ getpid()));
  offset = (size_t)rand() % n_requests;

  ep = epoll_create1(EPOLL_CLOEXEC);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || tfd < 0) die("epoll/timerfd");
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) != 0) die("epoll_ctl timer");

  conns = must(calloc((size_t)n_conns, sizeof *conns));
  for (int i = 0; i < n_conns; i++) open_connection(&conns[i]);

  struct epoll_event events[256];
  /* Connect everything before the clock starts. */
  uint64_t connect_deadline = now_ns() + TIMEOUT_NS;
  int ready = 0;
  while (ready < n_conns) {
    if (now_ns() > connect_deadline) {
      fprintf(stderr, "pace: could not connect %d connections\n", n_conns);
      return 1;
    }
    int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; i++) {
      conn *c = events[i].data.ptr;
      if (c == NULL || c->state != CONNECTING) continue;
      on_connected(c);
    }
    ready = 0;
    for (int i = 0; i < n_conns; i++) ready += conns[i].state == IDLE;
  }

  t0 = now_ns() + 1000000ULL;
  warmup_ns = (uint64_t)(warmup * 1e9);
  total_jobs = (uint64_t)((warmup + seconds) * rate);
  first_measured = (uint64_t)(warmup * rate);
  uint64_t measured_jobs = total_jobs - first_measured;
  uint64_t end = due_at(total_jobs);
  uint64_t last_timeout_scan = t0;
  arm_timer();

  for (;;) {
    uint64_t now = now_ns();
    int busy = 0;
    for (int i = 0; i < n_conns; i++) busy += conns[i].state == BUSY;
    if (next_job >= total_jobs && busy == 0) break;
    if (now > end + DRAIN_NS) break;
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    now = now_ns();
    for (int i = 0; i < n; i++) {
      conn *c = events[i].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        ssize_t ignored = read(tfd, &expirations, sizeof expirations);
        (void)ignored;
        continue;
      }
      if (c->state == CONNECTING) {
        on_connected(c);
      } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(c, now);
      } else if ((events[i].events & EPOLLOUT) && c->state == BUSY) {
        flush(c);
      }
    }
    if (now - last_timeout_scan > 100000000ULL) {
      last_timeout_scan = now;
      for (int i = 0; i < n_conns; i++) {
        if (conns[i].state == BUSY && now - conns[i].sent_at > TIMEOUT_NS) {
          timeouts++;
          reconnect(&conns[i]);
        }
      }
    }
    send_due(now_ns());
    arm_timer();
  }
  uint64_t finished = now_ns();

  FILE *out = fopen(argv[8], "wb");
  if (out == NULL) die(argv[8]);
  if (n_latencies > 0 && fwrite(latencies, sizeof *latencies, n_latencies, out) != n_latencies) die("write latencies");
  fclose(out);
  (void)finished;
  printf(
      "BENCH_RESULT {\"offeredRps\":%.3f,\"measured\":%llu,\"completed\":%llu,\"checked\":%llu,\"mismatches\":%llu,"
      "\"statusErrors\":%llu,\"readErrors\":%llu,\"connectErrors\":%llu,\"timeouts\":%llu,\"unanswered\":%llu,"
      "\"late\":%llu,\"maxBacklog\":%llu,\"durationUs\":%.0f}\n",
      rate, (unsigned long long)measured_jobs, (unsigned long long)completed, (unsigned long long)checked,
      (unsigned long long)mismatches, (unsigned long long)status_errors, (unsigned long long)read_errors,
      (unsigned long long)connect_errors, (unsigned long long)timeouts,
      (unsigned long long)(measured_jobs - answered_measured), (unsigned long long)late,
      (unsigned long long)max_backlog, seconds * 1e6);
  return 0;
}
