"""What the simulator measures, as raw counters (the report derives the figures from them).

Per worker: eligible seconds (connected, inside their own window, not in an outage) and the
spans they came from, work assigned per pool, earnings, paid and night seconds, pushes outside
the window. Per region and pool: the same totals. Per region: the running integral of eligible
workers over time, for hourly share samples and wake-up detection."""

from dataclasses import dataclass, field


@dataclass
class Tally:
    workers: int
    regions: int
    pools: int
    # Per worker.
    eligible_s: list[float] = field(default_factory=list)
    eligible_spans: list[list[tuple[float, float]]] = field(default_factory=list)
    work_s: list[list[float]] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    earnings_micros: list[int] = field(default_factory=list)
    paid_s: list[float] = field(default_factory=list)
    night_s: list[float] = field(default_factory=list)
    pushes_outside_window: list[int] = field(default_factory=list)
    # Per (region, pool), flattened as region * pools + pool.
    rp_work_s: list[float] = field(default_factory=list)
    rp_completed: list[int] = field(default_factory=list)
    rp_earnings_micros: list[int] = field(default_factory=list)
    rp_paid_s: list[float] = field(default_factory=list)
    rp_night_s: list[float] = field(default_factory=list)
    rp_pushes: list[int] = field(default_factory=list)
    # Per region.
    region_eligible_s: list[float] = field(default_factory=list)
    region_work_s: list[float] = field(default_factory=list)
    first_offer_delay_s: list[float | None] = field(default_factory=list)
    wakeups_measured: list[int] = field(default_factory=list)
    # Whole run.
    submitted: int = 0
    cancelled: int = 0
    offers: int = 0
    declines: int = 0
    expiries: int = 0
    leases: int = 0
    leases_lost: int = 0
    floor_top_ups: int = 0
    below_floor_payments: int = 0
    exposure_cap_exceeded: int = 0
    late_completions: list[int] = field(default_factory=list)
    sample_hours: list[float] = field(default_factory=list)
    sample_shares: list[list[float | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n, cells = self.workers, self.regions * self.pools
        self.eligible_s = [0.0] * n
        self.eligible_spans = [[] for _ in range(n)]
        self.work_s = [[0.0] * self.pools for _ in range(n)]
        self.completed = [0] * n
        self.earnings_micros = [0] * n
        self.paid_s = [0.0] * n
        self.night_s = [0.0] * n
        self.pushes_outside_window = [0] * n
        self.rp_work_s = [0.0] * cells
        self.rp_completed = [0] * cells
        self.rp_earnings_micros = [0] * cells
        self.rp_paid_s = [0.0] * cells
        self.rp_night_s = [0.0] * cells
        self.rp_pushes = [0] * cells
        self.region_eligible_s = [0.0] * self.regions
        self.region_work_s = [0.0] * self.regions
        self.first_offer_delay_s = [None] * self.regions
        self.wakeups_measured = [0] * self.regions
        self.sample_shares = [[] for _ in range(self.regions)]

    def sample(self, hour: float, region_eligible_s: list[float]) -> None:
        """Each region's cumulative normalized share (all pools) at this hour."""
        total_work = sum(self.region_work_s)
        total_eligible = sum(region_eligible_s)
        self.sample_hours.append(hour)
        for region, eligible in enumerate(region_eligible_s):
            share: float | None = None
            if eligible > 0 and total_work > 0:
                share = (self.region_work_s[region] / eligible) / (total_work / total_eligible)
            self.sample_shares[region].append(share)

    def wake_delay(self, region: int, delay_s: float) -> None:
        self.wakeups_measured[region] += 1
        worst = self.first_offer_delay_s[region]
        if worst is None or delay_s > worst:
            self.first_offer_delay_s[region] = delay_s
