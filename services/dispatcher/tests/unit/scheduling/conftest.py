import sys
from pathlib import Path

# The scheduling tests share `scheduling_oracle`; --import-mode=importlib does not put this
# folder on the path.
sys.path.insert(0, str(Path(__file__).parent))
