"""`python -m scoring`: run scoring until SIGTERM or SIGINT."""

from fairtask_runtime.service import run_service
from scoring.bootstrap import bootstrap
from scoring.config import ScoringSettings

if __name__ == "__main__":
    settings = ScoringSettings()
    run_service("scoring", settings, lambda: bootstrap(settings))
