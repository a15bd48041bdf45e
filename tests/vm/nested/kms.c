/* A minimal KMS client for the VM suite's real guest: sets WxH on the first connector with a
 * dumb buffer drawn with a known pattern, holds it for S seconds, and exits (fbcon then
 * restores its mode). The host compares a capture with the same formula.
 * Usage: kms W H S */
#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The pattern: red across, green down, blue the low byte of x ^ y. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	uint32_t r = x * 255 / (w - 1), g = y * 255 / (h - 1), b = (x ^ y) & 0xff;
	return 0xff000000u | r << 16 | g << 8 | b;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	uint32_t w = atoi(argv[1]), h = atoi(argv[2]);
	int hold = atoi(argv[3]);
	int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/dri/card0");

	struct drm_mode_card_res res = {0};
	if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES");
	uint32_t crtcs[8], connectors[8], encoders[8], fbs[8];
	if (res.count_crtcs > 8 || res.count_connectors > 8 || res.count_encoders > 8 ||
	    res.count_fbs > 8 || !res.count_crtcs || !res.count_connectors) {
		fprintf(stderr, "unexpected resources\n");
		return 1;
	}
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.connector_id_ptr = (uintptr_t)connectors;
	res.encoder_id_ptr = (uintptr_t)encoders;
	res.fb_id_ptr = (uintptr_t)fbs;
	if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES");

	struct drm_mode_create_dumb dumb = {.width = w, .height = h, .bpp = 32};
	if (ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &dumb))
		die("CREATE_DUMB");
	struct drm_mode_fb_cmd fb = {.width = w, .height = h, .pitch = dumb.pitch, .bpp = 32,
				     .depth = 24, .handle = dumb.handle};
	if (ioctl(fd, DRM_IOCTL_MODE_ADDFB, &fb))
		die("ADDFB");
	struct drm_mode_map_dumb map = {.handle = dumb.handle};
	if (ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
		die("MAP_DUMB");
	uint8_t *pixels = mmap(0, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map.offset);
	if (pixels == MAP_FAILED)
		die("mmap");
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			((uint32_t *)(pixels + y * dumb.pitch))[x] = pattern(x, y, w, h);

	/* A 60 Hz mode with CVT-like blanking: bochs takes any mode that fits its memory. */
	struct drm_mode_modeinfo mode = {0};
	mode.hdisplay = w;
	mode.hsync_start = w + 16;
	mode.hsync_end = w + 112;
	mode.htotal = w + 160;
	mode.vdisplay = h;
	mode.vsync_start = h + 10;
	mode.vsync_end = h + 12;
	mode.vtotal = h + 45;
	mode.vrefresh = 60;
	mode.clock = (uint32_t)((uint64_t)mode.htotal * mode.vtotal * 60 / 1000);
	mode.type = DRM_MODE_TYPE_USERDEF;
	snprintf(mode.name, sizeof(mode.name), "%ux%u", w, h);

	struct drm_mode_crtc crtc = {.set_connectors_ptr = (uintptr_t)&connectors[0],
				     .count_connectors = 1, .crtc_id = crtcs[0], .fb_id = fb.fb_id,
				     .mode_valid = 1, .mode = mode};
	if (ioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc))
		die("SETCRTC");
	printf("KMS %ux%u pitch %u\n", w, h, dumb.pitch);
	fflush(stdout);
	sleep(hold);
	return 0;
}
