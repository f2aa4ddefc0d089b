"""Running the platform's processes locally: PID-file daemons, the JVM's jars, the services."""
