/* Prints the mode list of the first connector of /dev/dri/card0 as the kernel built it, one
 * mode a line, in the kernel's order: the name, then the full timing, so that the host can
 * compare refresh rates and not only sizes (the sysfs list has names only):
 *   NAME CLOCK_KHZ HDISPLAY HSYNC_START HSYNC_END HTOTAL VDISPLAY VSYNC_START VSYNC_END VTOTAL
 *   FLAGS TYPE
 * FLAGS and TYPE are the DRM_MODE_FLAG_* and DRM_MODE_TYPE_* bits in hex (TYPE 0x8 is
 * preferred; FLAGS 0x10 is interlaced, and bits 19-22 carry the picture aspect ratio, which the
 * kernel reports only to a client that asks for it, as this one does).
 * Usage: modes [CARD] (default /dev/dri/card0) */
#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *card = argc > 1 ? argv[1] : "/dev/dri/card0";
	int fd = open(card, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(card);
	/* Without it the kernel hides modes that differ from another only by aspect ratio. */
	struct drm_set_client_cap cap = {.capability = DRM_CLIENT_CAP_ASPECT_RATIO, .value = 1};
	if (ioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &cap))
		die("SET_CLIENT_CAP");

	struct drm_mode_card_res res = {0};
	uint32_t connectors[8];
	if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES");
	if (!res.count_connectors || res.count_connectors > 8) {
		fprintf(stderr, "unexpected connector count %u\n", res.count_connectors);
		return 1;
	}
	struct drm_mode_card_res ids = {.count_connectors = res.count_connectors,
					.connector_id_ptr = (uintptr_t)connectors};
	if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &ids))
		die("GETRESOURCES");

	/* The first call with no room probes the connector and counts its modes; the list can
	 * change between the calls (a hot-plug), so a short second answer is retried. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct drm_mode_get_connector conn = {.connector_id = connectors[0]};
		if (ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn))
			die("GETCONNECTOR");
		uint32_t count = conn.count_modes;
		struct drm_mode_modeinfo *modes = calloc(count + 1, sizeof(*modes));
		if (!modes)
			die("calloc");
		struct drm_mode_get_connector full = {.connector_id = connectors[0],
						      .count_modes = count,
						      .modes_ptr = (uintptr_t)modes};
		if (ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &full))
			die("GETCONNECTOR");
		if (full.count_modes != count) {
			free(modes);
			continue;
		}
		for (uint32_t i = 0; i < count; i++) {
			const struct drm_mode_modeinfo *m = &modes[i];
			printf("%.*s %u %u %u %u %u %u %u %u %u 0x%x 0x%x\n", DRM_DISPLAY_MODE_LEN,
			       m->name, m->clock, m->hdisplay, m->hsync_start, m->hsync_end,
			       m->htotal, m->vdisplay, m->vsync_start, m->vsync_end, m->vtotal,
			       m->flags, m->type);
		}
		free(modes);
		return 0;
	}
	fprintf(stderr, "the mode list kept changing\n");
	return 1;
}
