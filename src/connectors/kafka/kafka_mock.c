/* `mpiflow kafka-mock`: librdkafka's mock cluster (rdkafka_mock.h) as a
 * standalone broker for trying the Kafka jobs on one machine and for the
 * tests. It creates the topics it is given, prints the bootstrap address
 * and serves until SIGINT/SIGTERM or `quit` on standard input. Further
 * lines on standard input steer it (the tests use them):
 *   topic NAME PARTITIONS   create a topic
 *   down ID | up ID         take broker ID (1..N) down or bring it back
 *   quit
 * What the mock is not: its transactions are not isolated (no commit or
 * abort markers, so read_committed consumers see aborted records too), a
 * new producer with the same transactional.id does not fence the old one,
 * transactional offset commits are dropped, and every partition keeps only
 * about 5 MiB, silently dropping the oldest records. */
#include "connectors/kafka/kafka_mock.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t mock_stop;

static void on_signal(int sig)
{
    (void)sig;
    mock_stop = 1;
}

static void mock_usage(FILE *f)
{
    fprintf(f, "usage: mpiflow kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
               "                          [--bootstrap-file FILE]\n"
               "  Starts librdkafka's mock Kafka cluster, prints its bootstrap address\n"
               "  and serves until interrupted. Standard input takes `topic NAME P`,\n"
               "  `down ID`, `up ID` and `quit`.\n"
               "  Not a real broker: transactions are not isolated (read_committed\n"
               "  consumers also see aborted records), producers are not fenced, and\n"
               "  each partition keeps only about 5 MiB.\n");
}

static int topic_create(rd_kafka_mock_cluster_t *mc, const char *name, int parts)
{
    if (parts < 1 || parts > 10000) {
        fprintf(stderr, "kafka-mock: topic '%s': partitions must be 1..10000, got %d\n", name,
                parts);
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, 1);
    if (err) {
        fprintf(stderr, "kafka-mock: topic '%s': %s\n", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int topic_arg(rd_kafka_mock_cluster_t *mc, const char *arg)
{
    char name[256];
    int parts = 1;
    const char *colon = strrchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    if (n == 0 || n >= sizeof name) {
        fprintf(stderr, "kafka-mock: bad --topic '%s' (NAME[:PARTITIONS])\n", arg);
        return -1;
    }
    memcpy(name, arg, n);
    name[n] = '\0';
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1) {
            fprintf(stderr, "kafka-mock: bad partition count in --topic '%s'\n", arg);
            return -1;
        }
        parts = (int)v;
    }
    return topic_create(mc, name, parts);
}

/* One command line from standard input; 1 on quit. */
static int mock_command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
    char name[256];
    int n;
    if (sscanf(line, "topic %255s %d", name, &n) == 2) {
        if (topic_create(mc, name, n) == 0)
            printf("ok topic %s %d\n", name, n);
    } else if (sscanf(line, "down %d", &n) == 1 || sscanf(line, "up %d", &n) == 1) {
        int up = line[0] == 'u';
        if (n < 1 || n > brokers) {
            fprintf(stderr, "kafka-mock: no broker %d (1..%d)\n", n, brokers);
        } else {
            rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, n)
                                         : rd_kafka_mock_broker_set_down(mc, n);
            if (err)
                fprintf(stderr, "kafka-mock: broker %d: %s\n", n, rd_kafka_err2str(err));
            else
                printf("ok %s %d\n", up ? "up" : "down", n);
        }
    } else if (strncmp(line, "quit", 4) == 0) {
        return 1;
    } else if (line[strspn(line, " \t\r\n")]) {
        fprintf(stderr, "kafka-mock: unknown command: %s", line);
    }
    fflush(stdout);
    return 0;
}

int kafka_mock_main(int argc, char **argv)
{
    int brokers = 1;
    const char *bootstrap_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            mock_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
            if (brokers < 1 || brokers > 16) {
                fprintf(stderr, "kafka-mock: --brokers must be 1..16\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--bootstrap-file") == 0 && i + 1 < argc) {
            bootstrap_file = argv[++i];
        } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            i++; /* created below, once the cluster exists */
        } else {
            mock_usage(stderr);
            return 2;
        }
    }

    char errstr[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    /* The handle only hosts the cluster's thread; it talks to nobody. */
    rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka-mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka-mock: could not start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++)
        if (strcmp(argv[i], "--topic") == 0)
            rc = topic_arg(mc, argv[++i]);
        else if (strcmp(argv[i], "--brokers") == 0 || strcmp(argv[i], "--bootstrap-file") == 0)
            i++;
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    if (rc == 0 && bootstrap_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", bootstrap_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", bs) < 0 || fclose(f) != 0 || rename(tmp, bootstrap_file)) {
            fprintf(stderr, "kafka-mock: cannot write %s: %s\n", bootstrap_file, strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0) {
        printf("bootstrap.servers=%s\n", bs);
        fflush(stdout);
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        int in_open = 1;
        char line[512];
        while (!mock_stop) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            int r = poll(&p, in_open ? 1 : 0, 200);
            if (r > 0) {
                if (!fgets(line, sizeof line, stdin))
                    in_open = 0; /* stdin closed: serve until a signal */
                else if (mock_command(mc, brokers, line))
                    break;
            }
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc == 0 ? 0 : 1;
}
