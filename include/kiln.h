/*
 * libkiln: bake immutable machine images from tagged git layers and roll
 * them out blue-green, from a program of your own. The kiln command line
 * is a thin layer over this API.
 *
 *   kiln/common.h   conventions, error codes, kiln_error_last(), version
 *   kiln/log.h      where kiln's log goes (nowhere unless asked)
 *   kiln/event.h    the progress callback every stage reports through
 *   kiln/profile.h  load and check a profile
 *   kiln/layer.h    resolve and pack a profile's layers
 *   kiln/report.h   what a stage checked, as JSON and JUnit XML
 *   kiln/policy.h   the policy gate every stage runs first
 *   kiln/bake.h     bake an image; its manifest
 *   kiln/validate.h image tests and smoke checks
 *   kiln/deploy.h   deploy blue-green, roll back, promote, status, destroy
 *   kiln/gc.h       collect what crashed bakes left and deploys retired
 *   kiln/hooks.h    hooks around every stage (commands, webhooks), the audit log
 *   kiln/refresh.h  rebake and redeploy what moved (base image, tracked tags)
 *   kiln/cloud.h    kiln's local cloud: start, stop, endpoint, base images
 *   kiln/world.h    rebuild every profile of a directory; the DR drill
 *
 * Build with `pkg-config --cflags --libs kiln`.
 */
#ifndef KILN_H
#define KILN_H

#include "kiln/common.h"
#include "kiln/log.h"
#include "kiln/event.h"
#include "kiln/profile.h"
#include "kiln/layer.h"
#include "kiln/report.h"
#include "kiln/policy.h"
#include "kiln/bake.h"
#include "kiln/validate.h"
#include "kiln/deploy.h"
#include "kiln/gc.h"
#include "kiln/hooks.h"
#include "kiln/refresh.h"
#include "kiln/cloud.h"
#include "kiln/world.h"

#endif
