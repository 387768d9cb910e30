/*
 * What the bench's C children share: Node's IPC channel (NODE_CHANNEL_FD, opened by the
 * coordinator's fork with `serialization: 'json'`: one JSON object per line each way), reading
 * the coordinator's flat JSON commands by key, and the monotonic clock. Included by receiver.c
 * and pipe-client.c (each one translation unit, so every function here is static).
 */
#ifndef BENCH_IPC_H
#define BENCH_IPC_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ipc_fd = -1;

/* Takes the channel the bench opened, or says who must run this program and exits 2. */
static void ipc_open(const char *program, const char *run_by) {
  const char *channel = getenv("NODE_CHANNEL_FD");
  if (channel == NULL) {
    fprintf(stderr, "%s: run by the bench (%s), which opens its IPC channel (NODE_CHANNEL_FD)\n", program, run_by);
    exit(2);
  }
  ipc_fd = atoi(channel);
}

/* ---- out: one JSON line, built with outf and sent with out_send ---- */
static char *out;
static size_t out_len, out_cap;

static void outf(const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + out_len, out_cap - out_len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < out_cap - out_len) {
      out_len += (size_t)n;
      return;
    }
    out_cap = out_cap * 2 + (size_t)n + 64;
    out = realloc(out, out_cap);
    if (out == NULL) exit(1);
  }
}

/* A JSON string: printable ASCII kept, quotes and backslashes escaped, the rest dropped. */
static void out_string(const char *s) {
  outf("\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') outf("\\%c", *s);
    else if (*s >= 0x20 && *s < 0x7f) outf("%c", *s);
  }
  outf("\"");
}

static void out_send(void) {
  outf("\n");
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(ipc_fd, out + done, out_len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) exit(1); /* the coordinator is gone */
    done += (size_t)n;
  }
  out_len = 0;
}

/* Says what went wrong on stderr and to the bench, as {"type":"error","message":"<prefix><message>"}. */
static void ipc_error(const char *program, const char *prefix, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  fprintf(stderr, "%s: %s\n", program, msg);
  char full[600];
  snprintf(full, sizeof full, "%s%s", prefix, msg);
  outf("{\"type\":\"error\",\"message\":");
  out_string(full);
  outf("}");
  out_send();
}

/* ---- in: the bench's commands, a line each ---- */
struct ipc_in {
  char *buf;
  size_t len, cap, used;
};

/* The next command, NUL-terminated in place (valid until the next call), or NULL once the bench is gone. */
static char *ipc_next_line(struct ipc_in *in) {
  if (in->used > 0) {
    memmove(in->buf, in->buf + in->used, in->len - in->used);
    in->len -= in->used;
    in->used = 0;
  }
  char *nl;
  while ((nl = in->len == 0 ? NULL : memchr(in->buf, '\n', in->len)) == NULL) {
    if (in->len + 4096 > in->cap) {
      in->cap = in->cap == 0 ? 1 << 16 : in->cap * 2;
      in->buf = realloc(in->buf, in->cap);
      if (in->buf == NULL) exit(1);
    }
    ssize_t n = read(ipc_fd, in->buf + in->len, in->cap - in->len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    in->len += (size_t)n;
  }
  *nl = 0;
  in->used = (size_t)(nl + 1 - in->buf);
  return in->buf;
}

/* ---- a flat JSON object's fields, found by key (the commands are ours and flat) ---- */
static const char *json_field(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(json, pattern);
  return at ? at + strlen(pattern) : NULL;
}

static double json_num(const char *json, const char *key, double fallback) {
  const char *at = json_field(json, key);
  return at ? strtod(at, NULL) : fallback;
}

static void json_str(const char *json, const char *key, char *into, size_t cap) {
  into[0] = 0;
  const char *at = json_field(json, key);
  if (!at || *at != '"') return;
  at++;
  size_t n = 0;
  while (*at && *at != '"' && n + 1 < cap) into[n++] = *at++;
  into[n] = 0;
}

/* ---- clocks ---- */
static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

#endif
