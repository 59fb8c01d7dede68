"""`python -m dispatcher`: run the dispatcher until SIGTERM or SIGINT."""

from dispatcher.bootstrap import bootstrap
from dispatcher.config import DispatcherSettings
from fairtask_runtime.service import run_service

if __name__ == "__main__":
    settings = DispatcherSettings()
    run_service("dispatcher", settings, lambda: bootstrap(settings).runtime)
