"""The benchmark harness, runnable from a checkout: same as ``qoxide bench``.

    python benches/run.py [--quick] [--workloads dressed,moons,layered] [--out DIR] ...

The harness lives in the package (``qoxide.bench``) so that ``qoxide bench`` works from an
installed wheel; see ``python benches/run.py --help`` for the workloads and flags.
"""

import sys

from qoxide.bench import main

if __name__ == "__main__":
    sys.exit(main())
