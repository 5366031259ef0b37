# PostgreSQL 15 with Debian's Patroni 3.0.2: the versions the native test harness runs.
FROM postgres:15.20-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends patroni=3.0.2-1 python3-etcd \
 && rm -rf /var/lib/apt/lists/*
USER postgres
ENTRYPOINT ["/usr/bin/patroni"]
CMD ["/etc/patroni/patroni.yml"]
