/*
 * tenant_rls.h -- declarations shared by every part of tenant_rls.
 *
 * Each concern keeps its own header (context.h, guc.h, ...); this one holds
 * only what all of them need.
 */
#ifndef TENANT_RLS_H
#define TENANT_RLS_H

#include "postgres.h"

#ifndef TENANT_RLS_VERSION
#error "TENANT_RLS_VERSION must be defined by the Makefile (from tenant_rls.control)"
#endif

/* The schema the extension lives in (fixed: the extension is not relocatable). */
#define TENANT_RLS_SCHEMA "tenant_rls"

/* The setting that carries the tenant of the current transaction or session. */
#define TENANT_SETTING "app.current_tenant_id"

/* Longest tenant value accepted, in bytes. */
#define TENANT_MAX_LEN 256

#endif							/* TENANT_RLS_H */
