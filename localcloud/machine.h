/*
 * Internal to the local cloud's runtime: helpers shared by machines and layers.
 */
#ifndef KILN_LOCALCLOUD_MACHINE_H
#define KILN_LOCALCLOUD_MACHINE_H

/* Lazily unmount every host mount at or below `dir`, deepest first. */
void kiln_lc_unmount_below(const char *dir);

#endif
