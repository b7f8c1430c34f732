/* One logger for every rank. Each line carries a timestamp, the level and
 * the role tag ("jm", "tm-2", "cli"); the level is checked before any
 * formatting happens. Writes each line to stderr with one fputs (one
 * write on a terminal), so lines stay whole, from any thread once
 * log_init has run; with log_open_file also to a file. On a terminal the
 * JobManager keeps a live status line below the log (log_live): a log
 * line clears it, is printed, and the live line is drawn again. */
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
/* A line for the log file only (nothing without one): what the terminal
 * shows another way, as the status line it shows live. */
void log_write_file(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Also append every line to path (log.dir's jobmanager.log or
 * taskmanager-<rank>.log). 0, or -1 with errno. */
int log_open_file(const char *path);
/* The log file of rank in directory dir: <dir>/jobmanager.log for rank
 * 0, <dir>/taskmanager-<rank>.log for the others. Caller frees. */
char *log_file_path(const char *dir, int rank);
void log_close_file(void);
/* Whether what this process writes to stderr ends on a terminal: stderr
 * itself, or, for an MPI rank whose stderr is mpirun's pipe, the stderr
 * of its parent (mpirun). *cols (cols may be NULL): its width. */
int log_stderr_terminal(int *cols);
/* Console mode (stderr is a terminal): every line first clears the
 * terminal's current line, which may hold a live line, ours or the
 * JobManager's forwarded by mpirun. */
void log_console(int on);
/* Console mode: show text (copied; NULL or "": none) as the live line,
 * redrawn in place ("\r", clear to the end of the line) and after every
 * log line. Without console mode it does nothing. */
void log_live(const char *text);

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
