/* One CSV record onto a schema (connectors layer), shared by the file
 * source and the Kafka source's csv format. */
#ifndef MPF_CONNECTORS_CSVROW_H
#define MPF_CONNECTORS_CSVROW_H

#include <stddef.h>
#include "record/batch.h"
#include "record/schema.h"

/* Parse line[0..len) (no line end) into a record of sc's fields in rb
 * (begun and ended here). Returns 0, or -1 with a message in why naming
 * the column and field ("col 7: field 'n': 'x' is not an i64"). */
int csvrow_parse(const schema *sc, char delim, const char *line, size_t len, recbuf *rb,
                 char *why, size_t whylen);

#endif
