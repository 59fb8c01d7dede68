"""Apache Kafka in KRaft mode (one combined broker+controller) from the Maven Central jars."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from fairtask_localstack.ports import LOOPBACK, port_open
from fairtask_localstack.process import LogFile, PidFile, StackError, run_sync, spawn, terminate
from fairtask_localstack.topics import kafka_answers

_POM = Path("scripts/kafka/pom.xml")
_MARKER = ".complete"
_SERVER_JVM = ["-Xmx512m", "-Xms256m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
# One-off tools: a quick start matters more than peak speed.
_TOOL_JVM = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]

_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.logger.kafka.server.ControllerServer=INFO
"""


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding scripts/kafka/pom.xml."""
    for path in (start.resolve(), *start.resolve().parents):
        if (path / _POM).is_file():
            return path
    raise StackError(f"no {_POM} at or above {start}")


def ensure_kafka_libs(project_root: Path) -> Path:
    """Return `.cache/kafka/libs`, fetching the jars with Maven first if missing or stale. Blocks.

    The marker file holds the pom's sha256 (scripts/setup.sh writes the same), so bumping the
    Kafka version re-fetches. A lock keeps two processes of one checkout from fetching at once.
    Raises StackError if Maven fails.
    """
    if override := os.environ.get("FAIRTASK_KAFKA_LIBS"):
        return Path(override)
    pom = project_root / _POM
    libs = project_root / ".cache" / "kafka" / "libs"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = libs / _MARKER
    if marker.is_file() and marker.read_text().strip() == digest:
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process fetches
        if marker.is_file() and marker.read_text().strip() == digest:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("mvn not found; run scripts/setup.sh")
        staging = libs.with_name(f"libs.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        done = subprocess.run(
            [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise StackError(f"fetching Kafka jars failed:\n{done.stdout[-3000:]}{done.stderr}")
        (staging / _MARKER).write_text(digest + "\n")
        _install(staging, libs)
    return libs


def _install(staging: Path, libs: Path) -> None:
    """Move freshly fetched jars into place without pulling jars from under a running broker."""
    if libs.is_dir() and _jar_names(libs) == _jar_names(staging):
        # Same jars (say, fetched before the marker existed): keep the files a JVM may have open.
        (staging / _MARKER).replace(libs / _MARKER)
        shutil.rmtree(staging)
        return
    if libs.exists():
        old = libs.with_name(f"libs.{os.getpid()}.old")
        libs.rename(old)
        shutil.rmtree(old, ignore_errors=True)  # a running JVM keeps its open jars readable
    staging.rename(libs)


def _jar_names(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("*.jar")}


def _cluster_id() -> str:
    # What `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64 without padding.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka rejects ids that look like command-line flags
            return text


class KafkaServer:
    """One KRaft node in `<data_dir>/kafka`, logging to `<data_dir>/logs/kafka.log`."""

    name = "kafka"

    def __init__(self, data_dir: Path, project_root: Path) -> None:
        self.dir = data_dir / "kafka"
        self.log_path = data_dir / "logs" / "kafka.log"
        self.pidfile = PidFile(data_dir / "pids" / "kafka.pid")
        self.project_root = project_root

    def _java(self, jvm: list[str], main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise StackError("java not found; run scripts/setup.sh")
        classpath = str(ensure_kafka_libs(self.project_root) / "*")
        log4j = f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}"
        return [java, *jvm, "-XX:-UsePerfData", "-Djava.awt.headless=true", log4j,
                "-cp", classpath, main, *args]  # fmt: skip

    def _configure(self, port: int, controller_port: int) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "log4j.properties").write_text(_LOG4J)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            # 50 by default; fewer makes the first consumer group join quick on a small machine.
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            # Sized for 2 cores and a 512 MB heap, next to other checkouts' stacks.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "4",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
            "log.index.size.max.bytes": str(1024 * 1024),
        }
        path = self.dir / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
        return path

    def _format(self, config: Path, log: LogFile) -> None:
        if (self.dir / "data" / "meta.properties").exists():
            return  # formatted by an earlier run; the cluster id lives in the data
        id_file = self.dir / "cluster.id"
        if not id_file.exists():
            id_file.write_text(_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        argv = self._java(_TOOL_JVM, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                          "-c", str(config), "--ignore-formatted")  # fmt: skip
        with log.path.open("ab") as out:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False
            )
        if done.returncode != 0:
            raise StackError(f"kafka StorageTool format failed; {self.log_path}:\n{log.tail()}")

    def _formatted_cluster_id(self) -> str | None:
        meta = self.dir / "data" / "meta.properties"
        for line in meta.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    def start(self, port: int, controller_port: int, timeout_s: float = 60.0) -> None:
        """Format the storage if new, start the JVM, block until it answers a metadata request.

        Raises StackError with the log's tail if the JVM exits or does not answer within
        `timeout_s`.
        """
        log = LogFile(self.log_path)
        config = self._configure(port, controller_port)
        self._format(config, log)
        argv = self._java(_SERVER_JVM, "kafka.Kafka", str(config))
        env = {**os.environ, "LOG_DIR": str(self.log_path.parent)}
        proc = spawn(argv, log, cwd=self.dir, env=env)
        self.pidfile.write(proc.pid)
        bootstrap = f"{LOOPBACK}:{port}"
        cluster_id = self._formatted_cluster_id()
        deadline = time.monotonic() + timeout_s
        while True:
            # Exit first: another checkout's broker might hold a port we lost the race for...
            if proc.poll() is not None:
                raise StackError(
                    f"Kafka exited with {proc.returncode}; {self.log_path}:\n{log.tail()}",
                    port_taken=log.port_taken(),
                )
            # ...and answer in the meantime, so only our own cluster id counts. The TCP poll
            # is cheap; the metadata request needs a full client round trip.
            if port_open(port) and run_sync(kafka_answers(bootstrap, cluster_id)):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"Kafka did not answer on {bootstrap} within {timeout_s:.0f} s; "
                    f"{self.log_path}:\n{log.tail()}"
                )
            time.sleep(0.2)

    def restart(self, timeout_s: float = 60.0) -> None:
        """Starts the broker again on the ports it was configured with (after a crash)."""
        listeners: dict[str, int] = {}
        for line in (self.dir / "server.properties").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "listeners":
                for listener in value.split(","):
                    name, _, address = listener.partition("://")
                    listeners[name] = int(address.rpartition(":")[2])
        self.start(listeners["PLAINTEXT"], listeners["CONTROLLER"], timeout_s)

    @staticmethod
    def answers(port: int) -> bool:
        return port_open(port) and run_sync(kafka_answers(f"{LOOPBACK}:{port}"))

    def running(self) -> bool:
        return self.pidfile.alive_pid() is not None

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after `grace_s`. Blocks; idempotent."""
        entry = self.pidfile.read()
        if entry is not None:
            terminate(*entry, grace_s=grace_s)
        self.pidfile.remove()
