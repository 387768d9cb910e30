/*
 * The bench's C receiver (scenario 3): holds the members that only receive, with epoll and
 * 64 KiB reads, so a room's deliveries cost the generator core little and the server's CPU
 * per delivery is measured with its peer not starved. It speaks the load generator's IPC
 * (src/generator-protocol.ts) on the Node channel the coordinator opened (NODE_CHANNEL_FD,
 * one JSON object per line), in the compact form src/generator-pool.ts sends it:
 *
 *   {"type":"setup","wire":"sb-tcp"|"irc"|"hub","host":"127.0.0.1","port":N,"room":"bench",
 *    "concurrency":N,"timeoutMs":N,"members":[i,…],"samples":[i,…],"senderIndex":[i,…]}
 *   {"type":"run","id":N,"t0":µs,"rate":N,"senders":S,"totalMessages":G,"windowStart":µs,"windowEnd":µs,"drainMs":N,…}
 *   {"type":"close"}
 *
 * and answers {"type":"ready",…}, a RunReport ({"type":"report",…}) or {"type":"closed"}.
 * Every member hears every sender but itself (one room): each checks every message's sender
 * and sequence (a bit per sequence number), so a loss and a duplicate are both counted; the
 * sample members also record latency = arrival − intended send time on CLOCK_MONOTONIC.
 *
 * Built by the bench: gcc -O2 -o .work/c-receiver receiver.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

#define READ_SIZE (64 * 1024)
#define MAX_UNIT (2 * 1024 * 1024) /* a frame or line longer than this is bad input */
#define PAYLOAD_MIN 34             /* "~B" 5 digits ":" 9 digits ":" 15 digits ";" */

enum wire { WIRE_SB_TCP, WIRE_IRC, WIRE_HUB };
enum state { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_CLOSED };

/* ---- the latency histogram of src/latency-histogram.ts: 1 % buckets from 1 µs to 100 s ---- */
#define GROWTH 1.01
static int BUCKETS;
static double LOG_GROWTH;

struct hist {
  double *counts;
  double count, max, sum;
};

static void hist_init(struct hist *h) {
  h->counts = calloc((size_t)BUCKETS, sizeof(double));
  h->count = h->max = h->sum = 0;
}

static void hist_clear(struct hist *h) {
  memset(h->counts, 0, (size_t)BUCKETS * sizeof(double));
  h->count = h->max = h->sum = 0;
}

static void hist_record(struct hist *h, double us) {
  double v = us < 1 ? 1 : us;
  int b = (int)floor(log(v) / LOG_GROWTH);
  if (b >= BUCKETS) b = BUCKETS - 1;
  h->counts[b]++;
  h->count++;
  h->sum += v;
  if (v > h->max) h->max = v;
}

static double hist_percentile(const struct hist *h, double p) {
  if (h->count == 0) return 0;
  double rank = ceil(p / 100 * h->count), seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += h->counts[b];
    if (seen >= rank) return fmin(pow(GROWTH, b + 1), h->max);
  }
  return h->max;
}

static void out_hist(const struct hist *h) {
  outf("{\"buckets\":[");
  int first = 1;
  for (int b = 0; b < BUCKETS; b++)
    if (h->counts[b] > 0) {
      outf("%s[%d,%.0f]", first ? "" : ",", b, h->counts[b]);
      first = 0;
    }
  outf("],\"count\":%.0f,\"max\":%.3f,\"sum\":%.3f}", h->count, h->max, h->sum);
}

static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ipc_error("c-receiver", "", fmt, ap);
  va_end(ap);
}

/* ---- a list of integers in a command ---- */
static int *json_ints(const char *json, const char *key, int *count) {
  *count = 0;
  const char *at = json_field(json, key);
  if (!at || *at != '[') return NULL;
  int cap = 16, *v = malloc(sizeof(int) * (size_t)cap);
  at++;
  while (*at && *at != ']') {
    char *end;
    long x = strtol(at, &end, 10);
    if (end == at) break;
    if (*count == cap) v = realloc(v, sizeof(int) * (size_t)(cap *= 2));
    v[(*count)++] = (int)x;
    at = end;
    while (*at == ',' || *at == ' ') at++;
  }
  return v;
}

/* ---- the CPU this process used ---- */
static double cpu_user_us, cpu_system_us;
static void cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  cpu_user_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
  cpu_system_us = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* ---- members ---- */
struct member {
  int index, sample, fd;
  enum state state;
  char close_reason[96];
  unsigned char *carry; /* the start of a unit that ends in a later read */
  size_t carry_len, carry_cap;
  unsigned char *pending; /* bytes not yet written (handshake, PONG) */
  size_t pending_len;
  double deadline; /* setup: when to give up */
  int names;       /* IRC: end-of-NAMES seen */
  long received, received_in_window, echoes, duplicates, unexpected, expected;
  uint32_t **seen; /* per sender ordinal: a bit per sequence number */
};

static enum wire wire;
static const char *wire_name;
static char host[64], room[64];
static int port, concurrency, timeout_ms;
static struct member *members;
static int n_members;
static int *sender_index, n_senders;
static int *sender_ordinal, ordinal_len; /* member index → sender ordinal, or -1 */
static long *sent_by;                    /* messages each sender ordinal sends this run */
static int epfd;
static double read_now, window_start = INFINITY, window_end = -INFINITY;
static struct hist latency, batch_delay;

struct code_count {
  char code[48];
  long n;
};
static struct code_count error_frames[32];
static int n_error_codes;

static void count_error(const char *code) {
  for (int i = 0; i < n_error_codes; i++)
    if (strcmp(error_frames[i].code, code) == 0) {
      error_frames[i].n++;
      return;
    }
  if (n_error_codes == 32) return;
  snprintf(error_frames[n_error_codes].code, sizeof error_frames[0].code, "%s", code);
  error_frames[n_error_codes++].n = 1;
}

static void member_close(struct member *m, const char *reason) {
  if (m->state == ST_CLOSED) return;
  m->state = ST_CLOSED;
  snprintf(m->close_reason, sizeof m->close_reason, "%s", reason);
  if (m->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, m->fd, NULL);
    close(m->fd);
    m->fd = -1;
  }
}

static void member_flush(struct member *m) {
  while (m->pending_len > 0) {
    ssize_t n = write(m->fd, m->pending, m->pending_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      member_close(m, strerror(errno));
      return;
    }
    memmove(m->pending, m->pending + n, m->pending_len - (size_t)n);
    m->pending_len -= (size_t)n;
  }
  struct epoll_event ev = {.events = EPOLLIN | (m->pending_len > 0 ? EPOLLOUT : 0), .data.ptr = m};
  epoll_ctl(epfd, EPOLL_CTL_MOD, m->fd, &ev);
}

static void member_write(struct member *m, const void *bytes, size_t len) {
  if (m->state == ST_CLOSED) return;
  m->pending = realloc(m->pending, m->pending_len + len);
  memcpy(m->pending + m->pending_len, bytes, len);
  m->pending_len += len;
  member_flush(m);
}

/* A Switchboard frame: u32be N, then the type and N − 1 bytes of payload (PROTOCOL.md §1). */
static void write_frame(struct member *m, unsigned char type, const char *json) {
  size_t n = strlen(json) + 1;
  unsigned char head[5] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n, type};
  unsigned char *frame = malloc(4 + n);
  memcpy(frame, head, 5);
  memcpy(frame + 5, json, n - 1);
  member_write(m, frame, 4 + n);
  free(frame);
}

static void ready(struct member *m) {
  if (m->state == ST_HANDSHAKE) m->state = ST_READY;
}

static void fail(struct member *m, const char *reason) {
  member_close(m, reason);
}

static long digits(const unsigned char *p, int width) {
  long v = 0;
  for (int i = 0; i < width; i++) v = v * 10 + (p[i] - '0');
  return v;
}

/* A chat message somewhere in buf[start, end): its payload's sender and sequence, checked. */
static void chat(struct member *m, const unsigned char *start, const unsigned char *end) {
  const unsigned char *at = memmem(start, (size_t)(end - start), "~B", 2);
  if (at == NULL || at + PAYLOAD_MIN > end) {
    m->unexpected++;
    return;
  }
  long sender = digits(at + 2, 5);
  if (sender == m->index) {
    m->echoes++;
    return;
  }
  int ordinal = sender < ordinal_len ? sender_ordinal[sender] : -1;
  long seq = digits(at + 8, 9);
  if (ordinal < 0 || seq >= sent_by[ordinal]) {
    m->unexpected++;
    return;
  }
  uint32_t *seen = m->seen[ordinal];
  uint32_t bit = 1u << (seq & 31);
  if (seen[seq >> 5] & bit) {
    m->duplicates++;
    return;
  }
  seen[seq >> 5] |= bit;
  m->received++;
  if (read_now >= window_start && read_now < window_end) m->received_in_window++;
  if (m->sample) {
    double sent_at = (double)digits(at + 18, 15);
    if (sent_at >= window_start && sent_at < window_end) hist_record(&latency, read_now - sent_at);
  }
}

static void error_frame(struct member *m, const unsigned char *json, const unsigned char *end) {
  char code[48] = "unreadable error frame";
  const unsigned char *at = memmem(json, (size_t)(end - json), "\"code\":\"", 8);
  if (at != NULL) {
    at += 8;
    size_t n = 0;
    while (at < end && *at != '"' && n + 1 < sizeof code) code[n++] = (char)*at++;
    code[n] = 0;
  }
  count_error(code);
  if (m->state == ST_HANDSHAKE) {
    char reason[96];
    snprintf(reason, sizeof reason, "error frame %s during setup", code);
    fail(m, reason);
  }
}

/* One whole frame (sb-tcp, hub): buf[start, end), the length prefix included. */
static void frame(struct member *m, const unsigned char *f, const unsigned char *end) {
  unsigned char type = f[4];
  if (type == 0x04 || type == 0x05) chat(m, f + 5, end);
  else if (wire == WIRE_HUB) {
    if (type == 0x03) ready(m); /* the hub's welcome */
  } else if (type == 0x10) ready(m); /* history: the last thing hello answers */
  else if (type == 0x09) error_frame(m, f + 5, end);
  else if (type == 0x0a) { /* ping → pong with its payload */
    unsigned char *pong = malloc((size_t)(end - f));
    memcpy(pong, f, (size_t)(end - f));
    pong[4] = 0x0b;
    member_write(m, pong, (size_t)(end - f));
    free(pong);
  }
}

/* One IRC line, LF included. */
static void line(struct member *m, const unsigned char *s, const unsigned char *end) {
  if (s[0] == ':') {
    const unsigned char *c = memchr(s, ' ', (size_t)(end - s));
    if (c == NULL) return;
    c++;
    if (end - c >= 7 && memcmp(c, "PRIVMSG", 7) == 0) {
      chat(m, c, end);
      return;
    }
    if (m->state != ST_HANDSHAKE || end - c < 3) return;
    if (memcmp(c, "001", 3) == 0) {
      char join[80];
      int n = snprintf(join, sizeof join, "JOIN #%s\r\n", room);
      member_write(m, join, (size_t)n);
    } else if (memcmp(c, "366", 3) == 0) {
      ready(m); /* end of NAMES: joined */
    } else if (c[0] == '4' || c[0] == '5') {
      char reason[96];
      int len = (int)(end - s);
      while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
      snprintf(reason, sizeof reason, "IRC error: %.*s", len > 80 ? 80 : len, (const char *)s);
      fail(m, reason);
    }
    return;
  }
  if (end - s >= 4 && memcmp(s, "PING", 4) == 0) {
    unsigned char *pong = malloc((size_t)(end - s));
    memcpy(pong, s, (size_t)(end - s));
    memcpy(pong, "PONG", 4);
    member_write(m, pong, (size_t)(end - s));
    free(pong);
  } else if (end - s >= 5 && memcmp(s, "ERROR", 5) == 0) {
    fail(m, "IRC ERROR from server");
  }
}

/* Cuts buf[0, len) into whole units; returns how many bytes were used (the rest is a partial unit). */
static size_t units(struct member *m, const unsigned char *buf, size_t len) {
  size_t p = 0;
  while (p < len && m->state != ST_CLOSED) {
    if (wire == WIRE_IRC) {
      const unsigned char *nl = memchr(buf + p, '\n', len - p);
      if (nl == NULL) break;
      line(m, buf + p, nl + 1);
      p = (size_t)(nl + 1 - buf);
    } else {
      if (len - p < 4) break;
      size_t n = ((size_t)buf[p] << 24) | ((size_t)buf[p + 1] << 16) | ((size_t)buf[p + 2] << 8) | buf[p + 3];
      if (n == 0 || n + 4 > MAX_UNIT) {
        fail(m, "bad input: frame length out of range");
        break;
      }
      if (len - p < 4 + n) break;
      frame(m, buf + p, buf + p + 4 + n);
      p += 4 + n;
    }
  }
  return p;
}

static unsigned char *work; /* carry + one read */

static void readable(struct member *m) {
  for (;;) {
    size_t have = m->carry_len;
    if (have) memcpy(work, m->carry, have);
    ssize_t n = read(m->fd, work + have, READ_SIZE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      member_close(m, n == 0 ? "closed by server" : strerror(errno));
      return;
    }
    read_now = now_us();
    size_t len = have + (size_t)n;
    size_t used = units(m, work, len);
    if (m->state == ST_CLOSED) return;
    size_t rest = len - used;
    if (rest > MAX_UNIT) {
      fail(m, "bad input: unit longer than 2 MiB");
      return;
    }
    if (rest > m->carry_cap) m->carry = realloc(m->carry, m->carry_cap = rest * 2);
    memmove(m->carry, work + used, rest);
    m->carry_len = rest;
    if ((size_t)n < READ_SIZE) return; /* drained: level-triggered epoll calls again when more comes */
  }
}

static void handshake(struct member *m) {
  char msg[160];
  if (wire == WIRE_SB_TCP) {
    snprintf(msg, sizeof msg, "{\"v\":1,\"name\":\"b%d\",\"room\":\"%s\"}", m->index, room);
    write_frame(m, 0x02, msg);
  } else if (wire == WIRE_IRC) {
    int n = snprintf(msg, sizeof msg, "NICK b%d\r\nUSER b%d 0 * :bench\r\n", m->index, m->index);
    member_write(m, msg, (size_t)n);
  }
}

static void event(struct member *m, uint32_t events) {
  if (m->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      member_close(m, strerror(err));
      return;
    }
    m->state = ST_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = m};
    epoll_ctl(epfd, EPOLL_CTL_MOD, m->fd, &ev);
    handshake(m);
    return;
  }
  if (events & EPOLLOUT) member_flush(m);
  if (m->state != ST_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(m);
}

static void start_connect(struct member *m) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &addr.sin_addr);
  m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (m->fd < 0) {
    member_close(m, strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  m->state = ST_CONNECTING;
  m->deadline = now_us() + timeout_ms * 1000.0;
  if (connect(m->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    member_close(m, strerror(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = m};
  epoll_ctl(epfd, EPOLL_CTL_ADD, m->fd, &ev);
}

/* Handles what epoll reports for up to `wait_ms`; the time each batch took goes to batch_delay when asked. */
static void poll_once(int wait_ms, int measure) {
  struct epoll_event evs[256];
  int n = epoll_wait(epfd, evs, 256, wait_ms);
  double t = measure ? now_us() : 0;
  for (int i = 0; i < n; i++) event(evs[i].data.ptr, evs[i].events);
  if (measure && n > 0) hist_record(&batch_delay, now_us() - t);
}

static void setup(const char *cmd) {
  double started = now_us();
  char w[16];
  json_str(cmd, "wire", w, sizeof w);
  if (strcmp(w, "sb-tcp") == 0) wire = WIRE_SB_TCP, wire_name = "sb-tcp";
  else if (strcmp(w, "irc") == 0) wire = WIRE_IRC, wire_name = "irc";
  else if (strcmp(w, "hub") == 0) wire = WIRE_HUB, wire_name = "hub";
  else {
    fatal("wire \"%s\" is not one the C receiver speaks (sb-tcp, irc, hub)", w);
    return;
  }
  json_str(cmd, "host", host, sizeof host);
  json_str(cmd, "room", room, sizeof room);
  port = (int)json_num(cmd, "port", 0);
  concurrency = (int)json_num(cmd, "concurrency", 64);
  timeout_ms = (int)json_num(cmd, "timeoutMs", 30000);
  int n_samples, *index = json_ints(cmd, "members", &n_members), *samples = json_ints(cmd, "samples", &n_samples);
  sender_index = json_ints(cmd, "senderIndex", &n_senders);
  members = calloc((size_t)(n_members > 0 ? n_members : 1), sizeof *members);
  ordinal_len = 1;
  for (int i = 0; i < n_members; i++) ordinal_len = index[i] + 1 > ordinal_len ? index[i] + 1 : ordinal_len;
  for (int s = 0; s < n_senders; s++) ordinal_len = sender_index[s] + 1 > ordinal_len ? sender_index[s] + 1 : ordinal_len;
  sender_ordinal = malloc(sizeof(int) * (size_t)ordinal_len);
  for (int i = 0; i < ordinal_len; i++) sender_ordinal[i] = -1;
  for (int s = 0; s < n_senders; s++) sender_ordinal[sender_index[s]] = s;
  sent_by = calloc((size_t)(n_senders > 0 ? n_senders : 1), sizeof(long));
  for (int i = 0; i < n_members; i++) {
    struct member *m = &members[i];
    m->index = index[i];
    m->fd = -1;
    for (int j = 0; j < n_samples; j++) m->sample |= samples[j] == m->index;
    m->seen = calloc((size_t)(n_senders > 0 ? n_senders : 1), sizeof(uint32_t *));
  }
  free(index);
  free(samples);
  /* A fixed number of connections in flight at once: a listen backlog overflow would cost a one-second SYN retry each. */
  int next = 0;
  for (;;) {
    int busy = 0, done = 0;
    double now = now_us();
    for (int i = 0; i < next; i++) {
      struct member *m = &members[i];
      if (m->state == ST_CONNECTING || m->state == ST_HANDSHAKE) {
        if (now > m->deadline) {
          char reason[64];
          snprintf(reason, sizeof reason, "no answer within %d ms", timeout_ms);
          member_close(m, reason);
        } else busy++;
      }
      if (m->state == ST_CLOSED) {
        fatal("member %d (%s): %s", m->index, wire_name, m->close_reason);
        return;
      }
      if (m->state == ST_READY) done++;
    }
    if (done == n_members) break;
    while (busy < concurrency && next < n_members) {
      start_connect(&members[next++]);
      busy++;
    }
    poll_once(20, 0);
  }
  outf("{\"type\":\"ready\",\"members\":%d,\"setupMs\":%.1f}", n_members, (now_us() - started) / 1000);
  out_send();
}

static long sent_by_sender(long s, long total, long count) {
  return s < total ? (total - 1 - s) / count + 1 : 0;
}

static void run(const char *cmd) {
  double id = json_num(cmd, "id", 0), t0 = json_num(cmd, "t0", 0), rate = json_num(cmd, "rate", 1);
  long S = (long)json_num(cmd, "senders", 1), G = (long)json_num(cmd, "totalMessages", 0);
  double drain_ms = json_num(cmd, "drainMs", 1000);
  window_start = json_num(cmd, "windowStart", 0);
  window_end = json_num(cmd, "windowEnd", 0);
  if (S != n_senders) {
    fatal("run names %ld senders, setup %d", S, n_senders);
    return;
  }
  hist_clear(&latency);
  hist_clear(&batch_delay);
  n_error_codes = 0;
  for (long s = 0; s < S; s++) sent_by[s] = sent_by_sender(s, G, S);
  for (int i = 0; i < n_members; i++) {
    struct member *m = &members[i];
    m->received = m->received_in_window = m->echoes = m->duplicates = m->unexpected = m->expected = 0;
    for (long s = 0; s < S; s++) {
      free(m->seen[s]);
      m->seen[s] = calloc((size_t)(sent_by[s] + 31) / 32 + 1, sizeof(uint32_t));
      if (sender_index[s] != m->index) m->expected += sent_by[s];
    }
  }
  double last_due = t0 + (double)(G - 1) * 1e6 / rate;
  double deadline = fmax(last_due, window_end) + drain_ms * 1000;
  double cpu_u0 = 0, cpu_s0 = 0, cpu_u = 0, cpu_s = 0, started_at = 0, window_us = 0;
  int phase = 0; /* 0 before the window, 1 in it, 2 after */
  for (;;) {
    double now = now_us();
    if (phase == 0 && now >= window_start) {
      cpu_now();
      cpu_u0 = cpu_user_us, cpu_s0 = cpu_system_us, started_at = now, phase = 1;
    }
    if (phase == 1 && now >= window_end) {
      cpu_now();
      cpu_u = cpu_user_us - cpu_u0, cpu_s = cpu_system_us - cpu_s0, window_us = now - started_at, phase = 2;
    }
    if (phase == 2) {
      int complete = 1;
      for (int i = 0; i < n_members && complete; i++) complete = members[i].state == ST_CLOSED || members[i].received >= members[i].expected;
      if (complete || now > deadline) break;
    }
    double next = phase == 0 ? window_start : phase == 1 ? window_end : now + 20000;
    int wait = (int)ceil((next - now) / 1000);
    poll_once(wait < 0 ? 0 : wait > 20 ? 20 : wait, phase == 1);
  }
  long received = 0, expected = 0, in_window = 0, echoes = 0, dups = 0, unexpected = 0, missing = 0, surplus = 0, closed = 0;
  for (int i = 0; i < n_members; i++) {
    struct member *m = &members[i];
    received += m->received, expected += m->expected, in_window += m->received_in_window;
    echoes += m->echoes, dups += m->duplicates, unexpected += m->unexpected;
    if (m->expected > m->received) missing += m->expected - m->received;
    if (m->received > m->expected) surplus += m->received - m->expected;
    if (m->state == ST_CLOSED) closed++;
  }
  outf("{\"type\":\"report\",\"id\":%.0f,\"sent\":0,\"sentInWindow\":0,\"sendLateness\":{\"buckets\":[],\"count\":0,\"max\":0,\"sum\":0},", id);
  outf("\"backlogMaxBytes\":0,\"backlogOverflow\":0,\"members\":%d,\"received\":%ld,\"expected\":%ld,\"missing\":%ld,\"surplus\":%ld,", n_members, received,
       expected, missing, surplus);
  outf("\"receivedInWindow\":%ld,\"echoes\":%ld,\"duplicates\":%ld,\"unexpected\":%ld,\"closed\":%ld,\"closeReasons\":{", in_window, echoes, dups, unexpected,
       closed);
  /* Close reasons, counted (a handful at most). */
  int first = 1;
  for (int i = 0; i < n_members; i++) {
    if (members[i].state != ST_CLOSED) continue;
    int seen_before = 0;
    for (int j = 0; j < i && !seen_before; j++) seen_before = members[j].state == ST_CLOSED && strcmp(members[j].close_reason, members[i].close_reason) == 0;
    if (seen_before) continue;
    long n = 0;
    for (int j = i; j < n_members; j++) n += members[j].state == ST_CLOSED && strcmp(members[j].close_reason, members[i].close_reason) == 0;
    outf("%s", first ? "" : ",");
    out_string(members[i].close_reason);
    outf(":%ld", n);
    first = 0;
  }
  outf("},\"errorFrames\":{");
  for (int i = 0; i < n_error_codes; i++) {
    outf("%s", i ? "," : "");
    out_string(error_frames[i].code);
    outf(":%ld", error_frames[i].n);
  }
  outf("},\"latency\":");
  out_hist(&latency);
  outf(",\"latencyByWire\":{\"%s\":", wire_name);
  out_hist(&latency);
  /* The analogue of Node's event-loop delay: how long handling one epoll batch took, the longest a read waited behind others. */
  outf("},\"cpuUserUs\":%.0f,\"cpuSystemUs\":%.0f,\"loopDelayP99Ms\":%.3f,\"loopDelayMaxMs\":%.3f,\"windowUs\":%.0f}", cpu_u, cpu_s,
       hist_percentile(&batch_delay, 99) / 1000, batch_delay.max / 1000, window_us);
  out_send();
}

int main(void) {
  ipc_open("c-receiver", "src/generator-pool.ts");
  LOG_GROWTH = log(GROWTH);
  BUCKETS = (int)ceil(log(100e6) / LOG_GROWTH) + 1;
  hist_init(&latency);
  hist_init(&batch_delay);
  work = malloc(MAX_UNIT + READ_SIZE);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct ipc_in commands = {0};
  for (;;) {
    char *in = ipc_next_line(&commands);
    if (in == NULL) return 0; /* the coordinator is gone */
    char type[16];
    json_str(in, "type", type, sizeof type);
    if (strcmp(type, "setup") == 0) setup(in);
    else if (strcmp(type, "run") == 0) run(in);
    else if (strcmp(type, "close") == 0) {
      for (int i = 0; i < n_members; i++) member_close(&members[i], "closed by the bench");
      outf("{\"type\":\"closed\"}");
      out_send();
      return 0;
    }
  }
}
