/*
 * coverage.h -- the coverage report (coverage(), lint() and friends).
 *
 * The finding families are set-based SQL in src/sql/60_coverage.sql; the
 * helpers in coverage.c do what SQL cannot do cheaply (walk and deparse
 * policy expression trees, parse tenant_rls.managed_schemas).
 */
#ifndef TENANT_RLS_COVERAGE_H
#define TENANT_RLS_COVERAGE_H

#include "fmgr.h"

extern Datum tenant_rls_policy_facts(PG_FUNCTION_ARGS);
extern Datum tenant_rls_coverage_config(PG_FUNCTION_ARGS);
extern Datum tenant_rls_expr_text_equal(PG_FUNCTION_ARGS);
extern Datum tenant_rls_tables(PG_FUNCTION_ARGS);
extern Datum tenant_rls_key_is_generated(PG_FUNCTION_ARGS);
extern Datum tenant_rls_column_acls(PG_FUNCTION_ARGS);
extern Datum tenant_rls_cid_lt(PG_FUNCTION_ARGS);

#endif							/* TENANT_RLS_COVERAGE_H */
