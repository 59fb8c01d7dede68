import sys
from pathlib import Path

# --import-mode=importlib does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))
