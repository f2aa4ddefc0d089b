"""Group "streams": the Kafka topics, and the Spark jobs that read them as supervised runs."""
