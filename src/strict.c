/*
 * strict.c -- placeholder; see module_init.h.
 */
#include "tenant_rls.h"

#include "module_init.h"

void
tenant_rls_strict_init(void)
{
}
