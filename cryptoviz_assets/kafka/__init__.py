"""Apache Kafka on this machine: the embedded broker (from Maven's jars) and the topics."""
