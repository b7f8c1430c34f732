/* `mpiflow kafka-mock`: librdkafka's mock cluster as a standalone broker
 * (connectors layer; see kafka_mock.c for what the mock does not do). */
#ifndef MPF_CONNECTORS_KAFKA_KAFKA_MOCK_H
#define MPF_CONNECTORS_KAFKA_KAFKA_MOCK_H

/* argv[0] is "kafka-mock". Returns the process exit code. */
int kafka_mock_main(int argc, char **argv);

#endif
