/*
 * Scenario 7's client that writes each message on its own, in C: what a page's code does (one
 * `send` per message), without the Node client's cost per message, which held the generator core
 * at 89 % and so made part of the figure the client's. One WebSocket connection (RFC 6455
 * client: every frame masked with its own random key, as a browser masks), TCP_NODELAY as
 * browsers set it, each message one binary WebSocket message in its own send(). It speaks
 * bridge-client.ts's IPC (the `start` message in; `mark` and `done` out, one JSON line each on
 * NODE_CHANNEL_FD), so src/bridge.ts's drive() measures it as it measures the Node client.
 *
 * The message is the bench's frame (src/outgoing.ts frameTemplate), given as hex in `start` with
 * the offset of its payload; the sequence and intended send time are written into each copy.
 * What comes back is a byte stream (the pipe and websockify relay reads, not messages): the
 * WebSocket payloads are joined and cut into length-prefixed frames again.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

#define SENDER_AT 2
#define SEQ_AT 8
#define SEQ_DIGITS 9
#define TIME_AT 18
#define TIME_DIGITS 15
#define PAYLOAD_MIN (TIME_AT + TIME_DIGITS + 1)
#define READ_SIZE (256 * 1024)
/* Sequence numbers in flight are tracked in a ring this big (far more than any in-flight count). */
#define RING (1 << 20)

static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ipc_error("pipe-client", "C pipe client: ", fmt, ap);
  va_end(ap);
  exit(1);
}

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* ---- samples and percentiles (as LatencyHistogram reports them: ms) ---- */
struct samples {
  double *v;
  size_t n, cap;
  double max;
};

static void record(struct samples *s, double us) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (s->v == NULL) fatal("out of memory");
  }
  s->v[s->n++] = us;
  if (us > s->max) s->max = us;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile_ms(struct samples *s, double p) {
  if (s->n == 0) return 0;
  qsort(s->v, s->n, sizeof *s->v, cmp_double);
  size_t i = (size_t)((p / 100) * (double)(s->n - 1) + 0.5);
  return s->v[i] / 1000;
}

/* ---- the connection ---- */
static int fd = -1;
static uint8_t *frame;       /* the bench's frame, filled in per message */
static size_t frame_len, payload_at;
static uint8_t *out_msg;     /* the masked WebSocket message */
static size_t msg_len, head_len;
static uint32_t rng = 2463534242u;
static unsigned long seq;

static void write_digits(uint8_t *p, unsigned long long v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    p[i] = (uint8_t)('0' + v % 10);
    v /= 10;
  }
}

static unsigned long long read_digits(const uint8_t *p, int width) {
  unsigned long long v = 0;
  for (int i = 0; i < width; i++) v = v * 10 + (unsigned)(p[i] - '0');
  return v;
}

/* One message, one send(): the frame with this sequence and send time, masked with a fresh key. */
static void send_one(void) {
  uint8_t *payload = frame + payload_at;
  write_digits(payload + SEQ_AT, seq++, SEQ_DIGITS);
  write_digits(payload + TIME_AT, (unsigned long long)now_us(), TIME_DIGITS);
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  uint8_t key[4] = {(uint8_t)rng, (uint8_t)(rng >> 8), (uint8_t)(rng >> 16), (uint8_t)(rng >> 24)};
  memcpy(out_msg + head_len - 4, key, 4);
  uint8_t *body = out_msg + head_len;
  for (size_t i = 0; i < frame_len; i++) body[i] = frame[i] ^ key[i & 3];
  for (size_t done = 0; done < msg_len;) {
    ssize_t n = send(fd, out_msg + done, msg_len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fatal("send: %s", n < 0 ? strerror(errno) : "closed");
    done += (size_t)n;
  }
}

/* Received bytes: WebSocket frames (rbuf), whose payloads make the echoed stream (sbuf). */
static uint8_t *rbuf, *sbuf;
static size_t rlen, slen, scap;
static void (*on_reply)(unsigned long seq, double sent_at);

static void walk_stream(void) {
  size_t p = 0;
  while (slen - p >= 4) {
    size_t unit = 4 + ((size_t)sbuf[p] << 24 | (size_t)sbuf[p + 1] << 16 | (size_t)sbuf[p + 2] << 8 | sbuf[p + 3]);
    if (slen - p < unit) break;
    if (unit > 5 && sbuf[p + 4] == 0x04) {
      const uint8_t *mark = NULL;
      if (payload_at + PAYLOAD_MIN <= unit && sbuf[p + payload_at] == '~' && sbuf[p + payload_at + 1] == 'B') mark = sbuf + p + payload_at;
      else mark = memmem(sbuf + p + 5, unit - 5, "~B", 2);
      if (mark != NULL && (size_t)(mark - (sbuf + p)) + PAYLOAD_MIN <= unit)
        on_reply((unsigned long)read_digits(mark + SEQ_AT, SEQ_DIGITS), (double)read_digits(mark + TIME_AT, TIME_DIGITS));
    }
    p += unit;
  }
  memmove(sbuf, sbuf + p, slen - p);
  slen -= p;
}

/* One read: every whole WebSocket frame's payload joins the stream, which is then walked. */
static void read_some(void) {
  ssize_t n;
  do n = recv(fd, rbuf + rlen, READ_SIZE, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) fatal("the connection closed (%s)", n < 0 ? strerror(errno) : "end of stream");
  rlen += (size_t)n;
  size_t p = 0;
  while (rlen - p >= 2) {
    uint8_t b0 = rbuf[p], b1 = rbuf[p + 1];
    size_t head = 2, len = b1 & 0x7f;
    if (len == 126) {
      if (rlen - p < 4) break;
      len = (size_t)rbuf[p + 2] << 8 | rbuf[p + 3];
      head = 4;
    } else if (len == 127) {
      if (rlen - p < 10) break;
      len = 0;
      for (int i = 2; i < 10; i++) len = len << 8 | rbuf[p + i];
      head = 10;
    }
    if (b1 & 0x80) fatal("the server sent a masked frame");
    if (rlen - p < head + len) break;
    int opcode = b0 & 0x0f;
    if (opcode == 0x8) fatal("the server closed the WebSocket");
    if (opcode == 0x0 || opcode == 0x1 || opcode == 0x2) {
      if (slen + len > scap) {
        scap = (slen + len) * 2;
        sbuf = realloc(sbuf, scap);
        if (sbuf == NULL) fatal("out of memory");
      }
      memcpy(sbuf + slen, rbuf + p + head, len);
      slen += len;
    }
    p += head + len;
  }
  memmove(rbuf, rbuf + p, rlen - p);
  rlen -= p;
  if (rlen + READ_SIZE > 4 * READ_SIZE) fatal("a WebSocket frame larger than %d bytes", 3 * READ_SIZE);
  walk_stream();
}

static void connect_ws(const char *url) {
  char host[256], path[512];
  int port;
  if (sscanf(url, "ws://%255[^:/]:%d%511s", host, &port, path) < 2) fatal("cannot read the URL %s", url);
  if (strchr(url + 5, '/') == NULL) strcpy(path, "/");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) fatal("the host must be an IPv4 address: %s", host);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fatal("connect %s: %s", url, strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char request[1024];
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  if (send(fd, request, (size_t)n, MSG_NOSIGNAL) != n) fatal("sending the upgrade request failed");
  /* The response, up to its blank line; what follows it is the first WebSocket bytes. */
  char *end = NULL;
  while (end == NULL) {
    ssize_t r = recv(fd, rbuf + rlen, READ_SIZE, 0);
    if (r <= 0) fatal("no upgrade response from %s", url);
    rlen += (size_t)r;
    rbuf[rlen] = 0;
    end = strstr((char *)rbuf, "\r\n\r\n");
  }
  if (strncmp((char *)rbuf, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr((char *)rbuf, "\r\n");
    if (eol) *eol = 0;
    fatal("the upgrade was refused: %s", (char *)rbuf);
  }
  size_t used = (size_t)(end + 4 - (char *)rbuf);
  memmove(rbuf, rbuf + used, rlen - used);
  rlen -= used;
}

/* ---- one run: round trips with one in flight, then a window with many ---- */
static struct samples rtt, loaded;
static unsigned long done_count, rtt_total, rtt_warmup;
static int phase_over;

static void rtt_reply(unsigned long s, double sent_at) {
  (void)s;
  if (done_count++ >= rtt_warmup) record(&rtt, now_us() - sent_at);
  if (done_count >= rtt_total) phase_over = 1;
  else send_one();
}

static uint8_t *outstanding; /* 1 where that sequence (mod RING) is in flight */
static unsigned long in_flight, completed, duplicates;
static double measure_from, measure_to;
static int measuring, stopping, run_index;

static void load_reply(unsigned long s, double sent_at) {
  if (!outstanding[s % RING]) {
    duplicates++;
    return;
  }
  outstanding[s % RING] = 0;
  in_flight--;
  double now = now_us();
  if (now >= measure_from && now < measure_to) {
    if (!measuring) {
      outf("{\"type\":\"mark\",\"what\":\"load-start\",\"run\":%d}", run_index);
      out_send();
    }
    measuring = 1;
    completed++;
    record(&loaded, now - sent_at);
  }
  if (now >= measure_to && !stopping) {
    stopping = 1;
    outf("{\"type\":\"mark\",\"what\":\"load-end\",\"run\":%d}", run_index);
    out_send();
  }
  if (!stopping) {
    outstanding[seq % RING] = 1;
    in_flight++;
    send_one();
  } else if (in_flight == 0) phase_over = 1;
}

static void load_frame(const char *hex, double at) {
  frame_len = strlen(hex) / 2;
  payload_at = (size_t)at;
  if (frame_len < 5 || payload_at + PAYLOAD_MIN > frame_len) fatal("bad frame template (%zu bytes, payload at %zu)", frame_len, payload_at);
  frame = malloc(frame_len);
  for (size_t i = 0; i < frame_len; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    frame[i] = (uint8_t)v;
  }
  head_len = (frame_len < 126 ? 2 : 4) + 4;
  msg_len = head_len + frame_len;
  out_msg = malloc(msg_len);
  out_msg[0] = 0x82;
  if (frame_len < 126) out_msg[1] = (uint8_t)(0x80 | frame_len);
  else if (frame_len < 65536) {
    out_msg[1] = 0x80 | 126;
    out_msg[2] = (uint8_t)(frame_len >> 8);
    out_msg[3] = (uint8_t)frame_len;
  } else fatal("frame template too large");
}

int main(void) {
  ipc_open("pipe-client", "src/bridge.ts");
  struct ipc_in in = {0};
  char *start = ipc_next_line(&in);
  if (start == NULL) return 0;
  size_t len = strlen(start);
  char url[600], *hex = malloc(len + 1);
  json_str(start, "url", url, sizeof url);
  json_str(start, "frameHex", hex, len + 1);
  load_frame(hex, json_num(start, "payloadAt", -1));
  rtt_total = (unsigned long)json_num(start, "rttCount", 2000) + (unsigned long)json_num(start, "rttWarmup", 200);
  rtt_warmup = (unsigned long)json_num(start, "rttWarmup", 200);
  unsigned long in_flight_target = (unsigned long)json_num(start, "inFlight", 64);
  double throughput_ms = json_num(start, "throughputMs", 5000);
  int runs = (int)json_num(start, "runs", 1);
  if (in_flight_target >= RING) fatal("in-flight count too large");

  rbuf = malloc(4 * READ_SIZE + 1);
  scap = 4 * READ_SIZE;
  sbuf = malloc(scap);
  outstanding = calloc(RING, 1);
  connect_ws(url);

  char *all = malloc((size_t)runs * 1024 + 64), *w = all;
  w += sprintf(w, "{\"type\":\"done\",\"runs\":[");
  for (run_index = 0; run_index < runs; run_index++) {
    rtt.n = loaded.n = 0;
    rtt.max = loaded.max = 0;
    outf("{\"type\":\"mark\",\"what\":\"rtt-start\",\"run\":%d}", run_index);
    out_send();
    double cpu0 = cpu_us(), t0 = now_us();
    done_count = 0;
    phase_over = 0;
    on_reply = rtt_reply;
    send_one();
    while (!phase_over) read_some();

    completed = duplicates = in_flight = 0;
    measuring = stopping = phase_over = 0;
    double warmup_us = throughput_ms * 1000 / 4 < 1e6 ? throughput_ms * 1000 / 4 : 1e6;
    double begin = now_us();
    measure_from = begin + warmup_us;
    measure_to = begin + throughput_ms * 1000;
    on_reply = load_reply;
    for (unsigned long i = 0; i < in_flight_target; i++) {
      outstanding[seq % RING] = 1;
      in_flight++;
      send_one();
    }
    while (!phase_over) read_some();
    double cpu = cpu_us() - cpu0, end = now_us();
    double rtt_max = rtt.max;
    w += sprintf(w,
                 "%s{\"rttP50Ms\":%.4f,\"rttP99Ms\":%.4f,\"rttMaxMs\":%.4f,\"rttSamples\":%zu,\"messagesPerSecond\":%.1f,"
                 "\"loadedP50Ms\":%.4f,\"loadedP99Ms\":%.4f,\"clientCpu\":%.4f,\"duplicates\":%lu,"
                 "\"rttFromUs\":%.0f,\"rttToUs\":%.0f,\"loadFromUs\":%.0f,\"loadToUs\":%.0f}",
                 run_index ? "," : "", percentile_ms(&rtt, 50), percentile_ms(&rtt, 99), rtt_max / 1000, rtt.n,
                 (double)completed / ((measure_to - measure_from) / 1e6), percentile_ms(&loaded, 50), percentile_ms(&loaded, 99),
                 cpu / (end - t0), duplicates, t0, begin, measure_from, measure_to);
  }
  sprintf(w, "]}");
  outf("%s", all);
  out_send();
  close(fd);
  return 0;
}
