"""fnbench: is this network actually fast on my hardware?

Measures FLOPs, memory access, latency, throughput and achieved FLOPS of operators and models
the way the FasterNet paper (Chen et al., CVPR 2023) does, on the user's own devices.
"""

__version__ = "0.1.0"
