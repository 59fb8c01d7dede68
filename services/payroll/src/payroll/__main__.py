"""`python -m payroll`: run payroll until SIGTERM or SIGINT."""

from fairtask_runtime.service import run_service
from payroll.bootstrap import SERVICE, bootstrap
from payroll.config import PayrollSettings

if __name__ == "__main__":
    settings = PayrollSettings()
    run_service(SERVICE, settings, lambda: bootstrap(settings))
