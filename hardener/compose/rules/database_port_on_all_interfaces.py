from __future__ import annotations

from hardener.compose.services import image, once_per_place, published_ports
from hardener.images import ImageRef
from hardener.model import Severity
from hardener.rules.base import Example, Rule

DATABASES = frozenset(
    {
        "postgres",
        "mysql",
        "mariadb",
        "mongo",
        "redis",
        "memcached",
        "elasticsearch",
        "opensearch",
        "couchdb",
        "cassandra",
        "neo4j",
        "influxdb",
        "clickhouse",
        "rabbitmq",
        "valkey",
        "etcd",
        "minio",
        "mssql-server",
    }
)


class DatabasePortOnAllInterfaces(Rule):
    id = "HD214"
    name = "database-port-on-all-interfaces"
    kind = "compose"
    summary = "Do not publish database ports on every interface"
    severity = Severity.WARNING
    rationale = (
        "A published port without a host address listens on every interface of the host, and Docker's "
        "iptables rules bypass host firewalls such as ufw. Databases are then open to the network. Let other "
        "services reach the database over the compose network, or publish it on 127.0.0.1 only."
    )
    references = ("CIS Docker Benchmark v1.6 5.14", "KICS 451d79dc", "compose-lint CL-0005")
    valid = ('services:\n  db:\n    image: postgres:16\n    ports:\n      - "127.0.0.1:5432:5432"\n',)
    invalid = (Example('services:\n  db:\n    image: postgres:16\n    ports:\n      - "5432:5432"\n'),)

    def check(self, document, context):
        found = (
            (service, port.node)
            for service in document.services
            if (name := image(service)) and ImageRef.parse(name).name in DATABASES
            for port in published_ports(service)
            if port.host_ip in (None, "", "0.0.0.0", "::")
        )
        for service, node in once_per_place(found):
            yield self.finding(node.line, f"service {service.name!r} publishes a database port on every interface")
