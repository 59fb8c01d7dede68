import sys

from fairtask_sim.cli import main

sys.exit(main())
