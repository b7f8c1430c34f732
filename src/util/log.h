/* One logger for every rank. Each line carries a timestamp, the level and
 * the role tag ("jm", "tm-2", "cli"); the level is checked before any
 * formatting happens. Writes each line to stderr with one fputs, so lines
 * stay whole, from any thread once log_init has run. */
#ifndef MPF_UTIL_LOG_H
#define MPF_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern int log_threshold;

/* Set the role tag (copied) and threshold. */
void log_init(const char *role, int level);
/* Parse "debug|info|warn|error|off"; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_(lvl, ...)                                                  \
    do {                                                                \
        if ((lvl) >= log_threshold)                                     \
            log_write((lvl), __VA_ARGS__);                              \
    } while (0)
#define log_debug(...) LOG_(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG_(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_(LOG_ERROR, __VA_ARGS__)

#endif
