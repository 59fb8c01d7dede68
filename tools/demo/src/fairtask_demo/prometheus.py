"""A real Prometheus server (Debian's package) for `make run`: it scrapes the three services
with the project's rules loaded (deploy/prometheus/rules.yml), as operators' Prometheus does,
and the report reads the fairness series back from it."""

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairtask_demo.supervisor import LOOPBACK, ServiceProcess, signal_group, tail
from fairtask_localstack.ports import free_ports

SCRAPE_S = 2
RULES = Path("deploy/prometheus/rules.yml")
_READY_TIMEOUT_S = 30.0


class PrometheusError(RuntimeError):
    pass


def config(services: list[ServiceProcess], rules: Path) -> dict[str, Any]:
    """Each service a job of its own name, with the namespace label the rules select on (in
    Kubernetes the ServiceMonitor's target labels give it)."""
    return {
        "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": s.name,
                "static_configs": [
                    {
                        "targets": [f"{LOOPBACK}:{s.http_port}"],
                        "labels": {"namespace": "fairtask", "pod": f"{s.name}-0"},
                    }
                ],
            }
            for s in services
        ],
    }


@dataclass
class Prometheus:
    data_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "prometheus.log"

    def start(self, services: list[ServiceProcess], root: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusError("prometheus not found; run scripts/setup.sh")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.data_dir / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        config_path.write_text(json.dumps(config(services, root / RULES), indent=2))
        (self.port,) = free_ports(1)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                    f"--web.listen-address={LOOPBACK}:{self.port}",
                    "--storage.tsdb.retention.time=1d",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT_S
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited:\n{tail(self.log_path)}")
            with contextlib.suppress(OSError):
                if await asyncio.to_thread(_get, f"{self.url}/-/ready") is not None:
                    return
            if loop.time() > deadline:
                raise PrometheusError(f"prometheus not ready:\n{tail(self.log_path)}")
            await asyncio.sleep(0.25)

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr` now: [{"metric": {...}, "value": [t, "v"]}, ...]."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        answer = await asyncio.to_thread(_get, url)
        if answer is None:
            raise PrometheusError(f"no answer to {expr}")
        found: list[dict[str, Any]] = json.loads(answer)["data"]["result"]
        return found

    async def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[dict[str, Any]]:
        """The range vector of `expr`: [{"metric": {...}, "values": [[t, "v"], ...]}, ...]."""
        query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step_s})
        answer = await asyncio.to_thread(_get, f"{self.url}/api/v1/query_range?{query}")
        if answer is None:
            raise PrometheusError(f"no answer to {expr}")
        found: list[dict[str, Any]] = json.loads(answer)["data"]["result"]
        return found

    async def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 5)


def _get(url: str) -> str | None:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return response.read().decode() if response.status == 200 else None


async def fairness(prometheus: Prometheus) -> dict[str, Any]:
    """What the recording rules say of the run: each region's share, the Jain index."""
    shares = await prometheus.query("fairtask:region_share:ratio15m")
    jain = await prometheus.query("fairtask:jain_index:ratio15m")
    return {
        "url": prometheus.url,
        "region_shares": {s["metric"]["region"]: round(float(s["value"][1]), 4) for s in shares},
        "jain_index": round(float(jain[0]["value"][1]), 4) if jain else None,
    }
