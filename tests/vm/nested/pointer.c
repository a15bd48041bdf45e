// The nested guest's pointer reporter: opens the input device with an absolute X axis (the
// virtio tablet the host's QEMU has), prints POINTER-READY, then for each left-button press
// prints a section with the pointer's pixel on a W x H screen, the way Linux's tablet
// consumers scale the axis range to the screen: CLICKS for the first press, CLICKS2, CLICKS3...
// for the next ones, so that each can be checked on its own. Exits after N presses.
// Usage: pointer W H N
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BIT(bits, n) ((bits)[(n) / 8] & (1 << ((n) % 8)))

static int open_tablet(struct input_absinfo *ax, struct input_absinfo *ay) {
  for (int tries = 0; tries < 300; tries++) {
    for (int i = 0; i < 32; i++) {
      char path[64];
      snprintf(path, sizeof path, "/dev/input/event%d", i);
      int fd = open(path, O_RDONLY);
      if (fd < 0) continue;
      unsigned char bits[(ABS_MAX + 8) / 8] = {0};
      if (ioctl(fd, EVIOCGBIT(EV_ABS, sizeof bits), bits) >= 0 && BIT(bits, ABS_X) &&
          ioctl(fd, EVIOCGABS(ABS_X), ax) == 0 && ioctl(fd, EVIOCGABS(ABS_Y), ay) == 0)
        return fd;
      close(fd);
    }
    usleep(100000);
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pointer W H N\n");
    return 2;
  }
  long w = atol(argv[1]), h = atol(argv[2]), left = atol(argv[3]);
  struct input_absinfo ax, ay;
  int fd = open_tablet(&ax, &ay);
  if (fd < 0) {
    printf("POINTER-NONE\n");
    return 1;
  }
  printf("POINTER-READY x %d..%d y %d..%d\n", ax.minimum, ax.maximum, ay.minimum, ay.maximum);
  fflush(stdout);
  long x = 0, y = 0, presses = 0;
  struct input_event ev;
  while (left > 0 && read(fd, &ev, sizeof ev) == (ssize_t)sizeof ev) {
    if (ev.type == EV_ABS && ev.code == ABS_X) x = ev.value;
    if (ev.type == EV_ABS && ev.code == ABS_Y) y = ev.value;
    if (ev.type == EV_KEY && ev.code == BTN_LEFT && ev.value == 1) {
      long px = (x - ax.minimum) * w / (ax.maximum - ax.minimum + 1);
      long py = (y - ay.minimum) * h / (ay.maximum - ay.minimum + 1);
      char tag[32] = "CLICKS";
      if (++presses > 1) snprintf(tag, sizeof tag, "CLICKS%ld", presses);
      printf("%s-BEGIN\n%ld,%ld\n%s-END\n", tag, px, py, tag);
      fflush(stdout);
      left--;
    }
  }
  return 0;
}
