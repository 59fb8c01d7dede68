"""The scheduling core: pure, synchronous, time passed in. Shared by the dispatcher and the
simulator, so what the simulator measures is what the product does."""
