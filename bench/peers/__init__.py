"""The peers of the side-by-side benchmark (area "peers", bench/areas/peers.py): Grafana Loki and
VictoriaLogs, each built from a local source given by an environment variable (nothing is
downloaded), started on loopback with a temporary data directory, fed the same corpus over HTTP
and asked the same questions as Sawmill. build.py builds and caches the binaries; loki.py and
victorialogs.py start each one and translate the queries; common.py holds what they share."""
