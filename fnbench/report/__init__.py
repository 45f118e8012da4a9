"""Reports made from saved runs: tables now; plots, comparisons and paper overlays build on them."""
